# MoCo + FAME with SlowFast-R50 on 16-frame clips.
_base_ = ['./fame_r2plus1d_r18.py']

model = dict(
    backbone=dict(_base_.slowfast_r50_backbone, _delete_=True),
    head=dict(in_channels=2304))  # 2048 slow + 256 fast
