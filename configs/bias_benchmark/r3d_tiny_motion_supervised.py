# Supervised reference of the bias benchmark (tools/bias_benchmark.py): the
# backbone of fame_r3d_tiny_motion.py trained on the motion labels of
# the pretraining videos (their own backgrounds, so no scene bias), with the
# same clips, crops, optimizer and schedule, one view per video. It shows
# how much of the motion classes this backbone can learn in this budget
# when it is told them: a ceiling for what pretraining can put in the
# features.
_base_ = ['../fame_r3d_tiny_motion.py']

model = dict(
    _delete_=True,
    type='Recognizer3D',
    backbone=_base_.model.backbone,
    cls_head=dict(
        type='I3DHead',
        num_classes=8,
        in_channels=64,
        dropout_ratio=0.,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[110.2008, 100.63983, 95.99475],
        std=[58.14765, 56.46975, 55.332195],
        format_shape='NCTHW'))

train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(_delete_=True, type='pseudo_collate'),
    dataset=dict(
        _delete_=True,
        type='StrictVideoDataset',
        ann_file=_base_.train_dataloader.dataset.ann_file,
        data_prefix=_base_.train_dataloader.dataset.data_prefix,
        pipeline=_base_.train_pipeline))
optim_wrapper = dict(type='OptimWrapper')
custom_hooks = []  # the pretraining checks do not apply

# The benchmark reads the backbone out itself; the kNN monitor needs
# MoCoRecognizer's features.
val_dataloader = None
val_cfg = None
val_evaluator = None
