# SGD with a cosine schedule, no warm-up (the paper's I3D runs).
# Resumes mid-epoch where an iteration checkpoint stopped, and seeds every
# step from (seed, rank, iteration): a resumed run continues exactly.
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=200, val_interval=0)
val_cfg = None
test_cfg = None

# A step whose loss is not finite is skipped (with a warning) instead of
# writing NaN into the weights; `--amp` makes it SkipNonFiniteAmpOptimWrapper.
# The fused SGD updates all weights in one kernel per step (CPU and CUDA).
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, fused=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=0, by_epoch=True)
]
# lr 0.01 is for 8 GPUs x 8 videos; `--auto-scale-lr` rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=64)
