# Fine-tuning schedule of the reference I3D runs on UCF101 (docs/
# algorithm.md): SGD, momentum 0.9, weight decay 1e-4, lr 0.025 for a total
# batch of 128 (8 GPUs x 16), 150 epochs, lr x0.1 at epochs 60 and 120.
# The reference's fine-tuning script uses the same settings for R(2+1)D-18;
# we keep them for SlowFast and for HMDB51 and Diving48 too. For another
# total batch, scale lr linearly: `--auto-scale-lr` does it.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=150, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=150,
        by_epoch=True,
        milestones=[60, 120],
        gamma=0.1)
]

auto_scale_lr = dict(enable=False, base_batch_size=128)
