# SlowFast-R50 (tau 4, alpha 4 on 16-frame clips) with a new linear
# classifier; the backbone of the pretraining model (see r2plus1d_r18.py).
_base_ = ['./r2plus1d_r18.py']

model = dict(
    backbone=dict(_base_.slowfast_r50_backbone, _delete_=True),
    cls_head=dict(type='SlowFastHead', in_channels=2304))  # 2048 + 256
