# MoCo + FAME pretraining of I3D (ResNet3d-50) on Kinetics-400, 16x2 clips at
# 224, 8 GPUs x 8 videos, 200 epochs, cosine schedule (paper).
_base_ = [
    '_base_/models/fame_i3d_r50.py',
    '_base_/datasets/kinetics400_two_view_224.py',
    '_base_/schedules/sgd_cosine_200e.py', '_base_/default_runtime.py'
]

# A Kinetics-400 epoch is about 3,750 steps at 8 GPUs x 8 videos: a
# checkpoint every 1,000 steps (the last three kept), from which `--resume`
# continues mid-epoch exactly where it stopped.
default_hooks = dict(checkpoint=dict(interval=1000, by_epoch=False))
