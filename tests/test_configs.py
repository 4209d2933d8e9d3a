# Copyright (c) OpenMMLab. All rights reserved.
from pathlib import Path

import pytest
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import projects.fame  # noqa: F401

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
CONFIGS = sorted(CONFIG_DIR.glob('*.py'))
BACKBONE_WIDTH = dict(ResNet2Plus1d=512, ResNet3d=2048, ResNet3dSlowFast=2304)


def test_every_algorithm_has_a_baseline_twin():
    names = {c.stem for c in CONFIGS}
    fame = {n for n in names if not n.endswith('_moco')}
    assert {
        'fame_r2plus1d_k400', 'fame_i3d_k400', 'fame_slowfast_k400',
        'fame_r2plus1d_ucf101', 'fame_i3d_ucf101', 'fame_slowfast_ucf101'
    } <= fame
    assert {f'{n}_moco' for n in fame} == names - fame


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_builds_model_and_pipeline(path):
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    Compose(cfg.train_dataloader.dataset.pipeline)

    backbone = type(model.backbone).__name__
    if 'tiny' not in path.stem:
        assert model.head.in_channels == BACKBONE_WIDTH[backbone]
        queue_len = 2048 if 'ucf101' in path.stem else 65536
        assert model.head.queue.shape == (queue_len, 128)
        assert cfg.train_dataloader.dataset.type == 'RobustRepeatAugDataset'
    assert cfg.train_dataloader.dataset.num_repeats == 2
    fame_prob = cfg.model.data_preprocessor.fame.prob
    assert fame_prob == (0. if path.stem.endswith('_moco') else 1.)
    # Mid-epoch checkpoints where an epoch is long, so that the exact
    # mid-epoch resume of the train loop has something to resume from.
    checkpoint = cfg.default_hooks.checkpoint
    if 'k400' in path.stem:
        assert (checkpoint.interval, checkpoint.by_epoch) == (1000, False)
    else:
        by_epoch = checkpoint.get('by_epoch', True)
        assert (checkpoint.interval, by_epoch) == (1, True)
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'


@pytest.mark.parametrize(
    'path', [c for c in CONFIGS if c.stem.endswith('_moco')],
    ids=lambda p: p.stem)
def test_baseline_differs_only_by_fame_switch(path):
    baseline = Config.fromfile(str(path)).to_dict()
    fame = Config.fromfile(
        str(path.with_name(path.stem[:-len('_moco')] + '.py'))).to_dict()
    assert baseline['model']['data_preprocessor']['fame'].pop('prob') == 0.
    assert fame['model']['data_preprocessor']['fame'].pop('prob') == 1.
    assert baseline == fame


def test_bias_benchmark_supervised_reference():
    """Same backbone, clips and budget as the tiny pretraining."""
    tiny = Config.fromfile(str(CONFIG_DIR / 'fame_r3d_tiny_motion.py'))
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'bias_benchmark' /
            'r3d_tiny_motion_supervised.py'))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'Recognizer3D'
    assert cfg.model.backbone == tiny.model.backbone
    assert model.cls_head.num_classes == 8
    assert cfg.model.cls_head.in_channels == tiny.model.head.in_channels
    assert cfg.train_dataloader.dataset.pipeline == tiny.train_pipeline
    # The motion classes come in mirror pairs: no flip in either.
    assert 'Flip' not in [step['type'] for step in tiny.train_pipeline]
    Compose(cfg.train_dataloader.dataset.pipeline)
    assert cfg.optim_wrapper.optimizer == tiny.optim_wrapper.optimizer
    assert cfg.param_scheduler == tiny.param_scheduler
    assert cfg.train_cfg == tiny.train_cfg
    assert cfg.randomness == tiny.randomness
