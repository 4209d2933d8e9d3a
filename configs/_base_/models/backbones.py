# The backbones of the pretraining models (configs/_base_/models/fame_*.py)
# and of the transfer models (configs/transfer/_base_/models/), defined once,
# so that a FAME checkpoint loads into a transfer model key for key. BN3d,
# not SyncBN: shuffle BN needs per-process statistics.

# R(2+1)D-18.
r2plus1d_r18_backbone = dict(
    type='ResNet2Plus1d',
    depth=18,
    pretrained=None,
    pretrained2d=False,
    norm_eval=False,
    conv_cfg=dict(type='Conv2plus1d'),
    norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3),
    conv1_kernel=(3, 7, 7),
    conv1_stride_t=1,
    pool1_stride_t=1,
    inflate=(1, 1, 1, 1),
    spatial_strides=(1, 2, 2, 2),
    temporal_strides=(1, 2, 2, 2),
    zero_init_residual=False)

# MMAction2's I3D (ResNet3d-50).
i3d_r50_backbone = dict(
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
    zero_init_residual=False)

# SlowFast-R50 on 16-frame clips: the fast pathway sees all 16 frames, the
# slow one every 4th (resample_rate = speed_ratio = 4); 2048 + 256 channels.
slowfast_r50_backbone = dict(
    type='ResNet3dSlowFast',
    pretrained=None,
    resample_rate=4,
    speed_ratio=4,
    channel_ratio=8,
    slow_pathway=dict(
        type='resnet3d',
        depth=50,
        pretrained=None,
        lateral=True,
        fusion_kernel=5,
        conv1_kernel=(1, 7, 7),
        dilations=(1, 1, 1, 1),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(0, 0, 1, 1),
        norm_eval=False),
    fast_pathway=dict(
        type='resnet3d',
        depth=50,
        pretrained=None,
        lateral=False,
        base_channels=8,
        conv1_kernel=(5, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        norm_eval=False))
