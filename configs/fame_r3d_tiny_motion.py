# The embedded default: MoCo + FAME on the synthetic motion dataset of
# `tools/data/make_motion_dataset.py`, small enough for a CPU in minutes.
# A shallow ResNet3d-18 (64-d features), 8x2 clips at 32, batch 64.
_base_ = [
    '_base_/models/fame_r2plus1d_r18.py',
    '_base_/datasets/kinetics400_two_view.py',
    '_base_/schedules/sgd_cosine_200e.py', '_base_/default_runtime.py'
]

data_root = 'data/motion'
crop_size = 32

model = dict(
    # A faster key encoder than the paper's 0.999 suits a run of a few
    # hundred steps (MoCo's CIFAR setting).
    momentum=0.99,
    # A shallow ResNet3d-18 (I3D's backbone class): the stem and two stages
    # of one basic block each, 32 and 64 channels, 64-d features. The full
    # R(2+1)D-18 at base width 8 learns the motion classes when told them
    # but not MoCo's pretext task in these 640 steps (contrastive loss at
    # ln(1025) throughout, 2026-12-02); this one does.
    backbone=dict(
        _delete_=True,
        type='ResNet3d',
        depth=18,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        norm_cfg=dict(type='BN3d', requires_grad=True),
        conv1_kernel=(3, 5, 5),
        conv1_stride_t=1,
        pool1_stride_t=1,
        base_channels=32,
        num_stages=2,
        stage_blocks=(1, 1),
        inflate=(1, 1),
        spatial_strides=(1, 2),
        temporal_strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1, ),
        zero_init_residual=False),
    # 1000 videos give 2000 keys an epoch: a queue of 1024 holds about half
    # an epoch, so no video meets its own key of the previous epoch.
    head=dict(in_channels=64, queue_len=1024))

train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(
        type='RandomResizedCrop',
        area_range=(0.4, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    # No flip, unlike the paper: the motion classes come in mirror pairs
    # (translate left/right, orbit clockwise/counterclockwise), and a view
    # flipped against the other would teach the encoder not to tell them
    # apart.
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    prefetch_factor=2,
    pin_memory=False,
    dataset=dict(
        ann_file=f'{data_root}/pretrain.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))

# 40 epochs of 16 steps (tools/bias_benchmark.py trains 80: FAME learns its
# pretext task only there). AdamW: a linear warm-up to 2e-3 over 4 epochs,
# then a cosine decay to nearly 0.
max_epochs = 40
warmup_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='AdamW', lr=2e-3, weight_decay=1e-4, fused=True))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.04,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=2e-7,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=64)

default_hooks = dict(logger=dict(interval=5))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

# kNN monitor: every 5 epochs, the probe_val videos are classified by a kNN
# vote (k=20, cosine) over the probe_train videos' frozen backbone features.
# tools/bias_benchmark.py reads its features through the same pipeline: two
# uniformly spaced 8x2 clips per video, the whole frame at 32, averaged.
val_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(
        type='SampleFrames',
        clip_len=8,
        frame_interval=2,
        num_clips=2,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='StrictVideoDataset',
        ann_file=f'{data_root}/probe_val.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=val_pipeline,
        test_mode=True))
val_cfg = dict(
    _delete_=True,  # the schedule has no validation
    type='KNNValLoop',
    k=20,
    bank_dataloader=dict(
        val_dataloader,
        dataset=dict(
            val_dataloader['dataset'],
            ann_file=f'{data_root}/probe_train.txt')))
val_evaluator = dict(
    type='AccMetric', metric_options=dict(top_k_accuracy=dict(topk=(1, ))))
