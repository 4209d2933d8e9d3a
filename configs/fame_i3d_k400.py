# MoCo + FAME pretraining of I3D (ResNet3d-50) on Kinetics-400, 16x2 clips at
# 224, 8 GPUs x 8 videos, 200 epochs, cosine schedule (paper).
_base_ = [
    '_base_/models/fame_i3d_r50.py',
    '_base_/datasets/kinetics400_two_view_224.py',
    '_base_/schedules/sgd_cosine_200e.py', '_base_/default_runtime.py'
]
