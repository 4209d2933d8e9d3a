# Copyright (c) OpenMMLab. All rights reserved.
"""Invalid settings are refused with messages that name the config key."""
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

import projects.fame  # noqa: F401
from projects.fame.engine import PretrainConfigCheckHook
from projects.fame.utils import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def model_cfg(changes: Optional[dict] = None) -> dict:
    init_default_scope('mmaction')
    cfg = Config.fromfile(
        str(CONFIGS / '_base_' / 'models' / 'fame_r2plus1d_r18.py'))
    options = {
        'backbone.base_channels': 8,
        'head.in_channels': 64,
        'head.queue_len': 16
    }
    options.update(changes or {})
    cfg.merge_from_dict({f'model.{k}': v for k, v in options.items()})
    return cfg.model


@pytest.mark.parametrize('option, value', [
    ('data_preprocessor.fame.beta', 1.5),
    ('data_preprocessor.fame.beta', 0.),
    ('data_preprocessor.fame.prob', -1),
    ('momentum', 1.),
    ('head.queue_len', 0),
    ('head.temperature', 0),
])
def test_build_errors_name_the_key(option, value):
    key = f'model.{option}'
    with pytest.raises(ConfigError) as info:
        MODELS.build(model_cfg({option: value}))
    assert info.value.key == key
    assert str(info.value).startswith(f'{key} must be')


@pytest.mark.parametrize('config',
                         ['fame_i3d_k400.py', 'fame_slowfast_k400.py'])
def test_projector_width_is_checked_against_the_backbone(config):
    cfg = Config.fromfile(str(CONFIGS / config))
    init_default_scope(cfg.default_scope)
    width = cfg.model.head.in_channels  # 2048 or 2304
    cfg.model.head.in_channels = 512
    with pytest.raises(ConfigError) as info:
        MODELS.build(cfg.model)
    assert str(info.value) == (
        'model.head.in_channels is 512, but the backbone gives '
        f'{width}-d pooled features: set it to {width}')


@MODELS.register_module(force=True)
class WidthlessBackbone(nn.Module):
    """A backbone that does not state its output width."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 5, 1)

    def forward(self, x):
        return self.conv(x)


def test_projector_width_is_checked_at_the_first_forward():
    cfg = model_cfg()
    cfg.backbone = dict(type='WidthlessBackbone')
    cfg.head.in_channels = 7
    model = MODELS.build(cfg)  # the width is unknown until a forward
    clips = torch.rand(2, 3, 4, 8, 8)
    with pytest.raises(
            ConfigError,
            match=re.escape('model.head.in_channels is 7, but the backbone '
                            'gives 5-d pooled features: set it to 5')):
        model([clips, clips], mode='loss')


def test_crop_must_fit_the_blur_kernel():
    runner = SimpleNamespace()  # the check reads only the batch

    def batch(size):
        return dict(inputs=[torch.zeros(1, 3, 4, size, size + 3)] * 2)

    hook = PretrainConfigCheckHook()
    with pytest.raises(ValueError) as info:
        hook.before_train_iter(runner, 0, batch(19))
    message = str(info.value)
    assert 'The training clips are 22x19 pixels' in message
    assert 'at least 20 pixels' in message
    assert 'train_dataloader.dataset.pipeline' in message
    hook = PretrainConfigCheckHook()
    hook.before_train_iter(runner, 0, batch(20))
    hook.before_train_iter(runner, 1, batch(8))  # checked once, at the start


def test_shipped_configs_use_the_checks_and_safeguards():
    for path in CONFIGS.glob('fame_*.py'):
        cfg = Config.fromfile(str(path))
        hooks = {h['type'] for h in cfg.custom_hooks}
        assert {'BadVideoHook', 'PretrainConfigCheckHook'} <= hooks, path
        assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
        assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
        assert cfg.optim_wrapper.type == 'SkipNonFiniteOptimWrapper'
        assert cfg.train_dataloader.sampler.type == 'ResumableSampler'
        assert cfg.train_dataloader.dataset.type == 'RobustRepeatAugDataset'
