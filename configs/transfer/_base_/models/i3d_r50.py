# MMAction2's I3D (ResNet3d-50) with a new linear classifier; the backbone
# of the pretraining model (see r2plus1d_r18.py).
_base_ = ['./r2plus1d_r18.py']

model = dict(
    backbone=dict(_base_.i3d_r50_backbone, _delete_=True),
    cls_head=dict(in_channels=2048))
