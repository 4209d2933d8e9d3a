# MoCo + FAME with R(2+1)D-18. BN3d, not SyncBN: shuffle BN needs per-process
# statistics.
model = dict(
    type='MoCoRecognizer',
    momentum=0.999,
    backbone=dict(
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
        zero_init_residual=False),
    head=dict(
        type='MoCoHead',
        in_channels=512,
        feat_dim=128,
        queue_len=65536,
        temperature=0.1),
    data_preprocessor=dict(
        type='ContrastiveDataPreprocessor',
        # The baseline switch: prob=0. trains plain MoCo.
        fame=dict(type='FAMEBlending', beta=0.5, prob=1.0, hue_mode='turns')))
