# Runtime shared by all FAME pretraining configs.
default_scope = 'mmaction'
custom_imports = dict(imports=['projects.fame'], allow_failed_imports=False)

# No SyncBuffersHook: the queue and the key encoder are already identical on
# every process, and averaging would corrupt the integer queue pointer.
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Written atomically (temporary file, fsync, rename): a crash never
    # leaves a truncated checkpoint for `--resume auto`.
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    # Counts the videos the dataset skipped, logs them every epoch, stops
    # past train_dataloader.dataset.max_bad_fraction.
    dict(type='BadVideoHook'),
    # Refuses crops too small for FAME's blur kernel.
    dict(type='PretrainConfigCheckHook'),
]

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

# Add dict(type='TensorboardVisBackend') to log to TensorBoard as well.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
