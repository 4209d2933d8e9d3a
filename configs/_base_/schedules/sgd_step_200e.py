# SGD with step decay at epochs 120 and 180 (the paper's R(2+1)D runs).
_base_ = ['./sgd_cosine_200e.py']

param_scheduler = [
    dict(type='MultiStepLR', milestones=[120, 180], gamma=0.1, by_epoch=True)
]
