# MoCo + FAME with MMAction2's I3D (ResNet3d-50), trained from scratch.
_base_ = ['./fame_r2plus1d_r18.py']

model = dict(
    backbone=dict(_base_.i3d_r50_backbone, _delete_=True),
    head=dict(in_channels=2048))
