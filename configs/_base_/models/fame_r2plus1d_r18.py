# MoCo + FAME with R(2+1)D-18.
_base_ = ['./backbones.py']

model = dict(
    type='MoCoRecognizer',
    momentum=0.999,
    backbone=_base_.r2plus1d_r18_backbone,
    head=dict(
        type='MoCoHead',
        in_channels=512,
        feat_dim=128,
        queue_len=65536,
        temperature=0.1),
    data_preprocessor=dict(
        type='ContrastiveDataPreprocessor',
        # The baseline switch: prob=0. trains plain MoCo.
        fame=dict(type='FAMEBlending', beta=0.5, prob=1.0, hue_mode='turns')))
