# Copyright (c) OpenMMLab. All rights reserved.
"""Exported FAME backbones load into MMAction2's own recognizer configs.

The configs are the stock R(2+1)D, I3D and SlowFast configs shipped inside
the installed mmaction2 package, loaded by path; only their channel widths
are narrowed. The FAME checkpoint comes from a ``MoCoRecognizer`` with the
same backbone config.
"""
from pathlib import Path

import mmaction
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import projects.fame  # noqa: F401
from tests.tool_loader import load_tool
from tests.toy_models import narrow_backbone

STOCK = Path(mmaction.__file__).parent / '.mim' / 'configs' / 'recognition'
STOCK_CONFIGS = [
    'r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py',
    'i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py',
    'slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py',
]


@pytest.fixture(scope='module')
def tool():
    return load_tool('export_backbone')


@pytest.mark.parametrize('stock', STOCK_CONFIGS, ids=lambda p: p.split('/')[0])
def test_stock_config_loads_exported_backbone(stock, tool, tmp_path):
    cfg = Config.fromfile(str(STOCK / stock))
    width = narrow_backbone(cfg.model.backbone, 8)
    cfg.model.cls_head.in_channels = width
    narrowed = tmp_path / 'stock.py'
    cfg.dump(str(narrowed))

    # A FAME model with the stock backbone, every tensor made distinct.
    init_default_scope('mmaction')
    fame = MODELS.build(
        dict(
            type='MoCoRecognizer',
            backbone=cfg.model.backbone,
            head=dict(type='MoCoHead', in_channels=width, queue_len=16)))
    torch.manual_seed(0)
    for value in fame.state_dict().values():
        if value.is_floating_point():
            value.copy_(torch.randn_like(value))
    torch.save(dict(state_dict=fame.state_dict(), meta={}), tmp_path / 'f.pth')
    tool.main([
        str(tmp_path / 'f.pth'),
        str(tmp_path / 'backbone.pth'), '--config',
        str(narrowed)
    ])

    cfg.load_from = str(tmp_path / 'backbone.pth')
    cfg.work_dir = str(tmp_path / 'work_dir')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()

    loaded = runner.model.state_dict()
    expected = fame.backbone.state_dict()
    assert {k for k in loaded if k.startswith('backbone.')} == \
        {f'backbone.{k}' for k in expected}
    for key, value in expected.items():
        assert torch.equal(loaded[f'backbone.{key}'], value), key
