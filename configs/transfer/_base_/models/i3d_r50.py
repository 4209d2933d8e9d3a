# MMAction2's I3D (ResNet3d-50) with a new linear classifier; the backbone
# of configs/_base_/models/fame_i3d_r50.py (see r2plus1d_r18.py).
_base_ = ['./r2plus1d_r18.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet3d',
        depth=50,
        pretrained=None,
        pretrained2d=False,
        conv1_kernel=(5, 7, 7),
        conv1_stride_t=2,
        pool1_stride_t=2,
        conv_cfg=dict(type='Conv3d'),
        norm_cfg=dict(type='BN3d', requires_grad=True),
        norm_eval=False,
        inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
        zero_init_residual=False),
    cls_head=dict(in_channels=2048))
