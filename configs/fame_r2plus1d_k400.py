# MoCo + FAME pretraining of R(2+1)D-18 on Kinetics-400, 16x2 clips at 112,
# 8 GPUs x 8 videos, 200 epochs, step schedule (paper, supplementary).
_base_ = [
    '_base_/models/fame_r2plus1d_r18.py',
    '_base_/datasets/kinetics400_two_view.py',
    '_base_/schedules/sgd_step_200e.py', '_base_/default_runtime.py'
]

# A Kinetics-400 epoch is about 3,750 steps at 8 GPUs x 8 videos: a
# checkpoint every 1,000 steps (the last three kept), from which `--resume`
# continues mid-epoch exactly where it stopped.
default_hooks = dict(checkpoint=dict(interval=1000, by_epoch=False))
