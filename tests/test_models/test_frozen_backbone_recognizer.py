# Copyright (c) OpenMMLab. All rights reserved.
from pathlib import Path

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

import projects.fame  # noqa: F401

MODEL_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'transfer' / \
    '_base_' / 'models'


def narrow(model: dict) -> dict:
    """Shrink the backbone of a transfer model config; fit its head."""
    backbone = model['backbone']
    if backbone['type'] == 'ResNet3dSlowFast':
        backbone['slow_pathway']['base_channels'] = 16
        backbone['fast_pathway']['base_channels'] = 2
        width = 16 * 32 + 2 * 32
    else:
        backbone['base_channels'] = 4
        width = 4 * 8 if backbone['type'] == 'ResNet2Plus1d' else 4 * 32
    model['cls_head']['in_channels'] = width
    model['cls_head']['num_classes'] = 3
    return model


@pytest.mark.parametrize('name', ['r2plus1d_r18', 'i3d_r50', 'slowfast_r50'])
def test_only_the_head_learns(name):
    init_default_scope('mmaction')
    cfg = narrow(Config.fromfile(str(MODEL_DIR / f'{name}.py')).model)
    cfg['type'] = 'FrozenBackboneRecognizer3D'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    assert model.training and model.cls_head.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.cls_head.parameters())
    assert not any(m.training for m in model.backbone.modules())
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = {k: v.clone() for k, v in model.cls_head.state_dict().items()}

    optimizer = torch.optim.SGD(model.parameters(), lr=1., momentum=0.9)
    samples = [ActionDataSample().set_gt_labels(i % 3) for i in range(2)]
    for _ in range(2):
        data = model.data_preprocessor(
            dict(
                inputs=[
                    torch.randint(
                        0, 256, (1, 3, 8, 32, 32), dtype=torch.uint8)
                    for _ in samples
                ],
                data_samples=samples),
            training=True)
        losses = model(**data, mode='loss')
        optimizer.zero_grad()
        losses['loss_cls'].backward()
        optimizer.step()

    # Weights and BN statistics (running mean, var, count) are untouched.
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, backbone[key]), key
    assert not torch.equal(model.cls_head.fc_cls.weight, head['fc_cls.weight'])
    assert not any(m.training for m in model.backbone.modules()
                   if isinstance(m, _BatchNorm))
