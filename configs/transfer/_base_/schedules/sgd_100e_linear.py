# Linear-probe schedule of the reference (MoCo's linear classification
# protocol, docs/algorithm.md): SGD, momentum 0.9, no weight decay, lr 30
# for a total batch of 256 (8 GPUs x 32), 100 epochs, lr x0.1 at epochs 60
# and 80. The large lr suits a classifier on unnormalised pooled features.
# For another total batch, scale lr linearly: `--auto-scale-lr` does it.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=100,
        by_epoch=True,
        milestones=[60, 80],
        gamma=0.1)
]

auto_scale_lr = dict(enable=False, base_batch_size=256)
