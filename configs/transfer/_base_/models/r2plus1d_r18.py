# R(2+1)D-18 with a new linear classifier. The backbone is the pretraining
# model's (configs/_base_/models/backbones.py), so a FAME checkpoint loads
# into it key for key. Inputs are normalised with the Kinetics statistics of
# pretraining; dropout 0.7 before the classifier and test scores averaged
# over clips ('score': logits), as in the reference.
_base_ = ['../../../_base_/models/backbones.py']

model = dict(
    type='Recognizer3D',
    backbone=_base_.r2plus1d_r18_backbone,
    cls_head=dict(
        type='I3DHead',
        num_classes=101,
        in_channels=512,
        spatial_type='avg',
        dropout_ratio=0.7,
        init_std=0.01,
        average_clips='score'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[110.2008, 100.63983, 95.99475],
        std=[58.14765, 56.46975, 55.332195],
        format_shape='NCTHW'))
