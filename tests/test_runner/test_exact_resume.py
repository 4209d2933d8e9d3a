# Copyright (c) OpenMMLab. All rights reserved.
"""N iterations straight == N/2, resume, N/2: bit for bit, on the CPU.

The run's seed is drawn at random, as in the shipped Kinetics configs
(``randomness.seed=None``), and restored from the checkpoint on resume; a
fixed seed is the easier case of the same mechanism.
"""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import projects.fame  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]

BATCH = 4  # 16 tiny videos: 4 iterations an epoch
EPOCHS = 3


def make_cfg(data_root: Path, work_dir: Path) -> Config:
    cfg = Config.fromfile(
        str(ROOT / 'configs' / 'fame_r3d_tiny_motion.py'))
    cfg.work_dir = str(work_dir)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.merge_from_dict(
        dict(
            model=dict(
                head=dict(in_channels=64, queue_len=64)),
            # Two persistent workers: a sample's randomness must depend
            # neither on the worker that prepares it nor on its past.
            train_dataloader=dict(
                batch_size=BATCH,
                num_workers=2,
                persistent_workers=True,
                prefetch_factor=2,
                dataset=dict(
                    ann_file=str(data_root / 'pretrain.txt'),
                    data_prefix=dict(video=str(data_root / 'videos')))),
            train_cfg=dict(max_epochs=EPOCHS),
            default_hooks=dict(
                checkpoint=dict(by_epoch=False, interval=3,
                                max_keep_ckpts=-1)),
            randomness=dict(seed=None),
            log_level='WARNING'))
    # A scheduler whose state must survive the resume too.
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', T_max=EPOCHS, by_epoch=True)
    ]
    return cfg


def test_resumed_run_equals_the_straight_run(tiny_motion, tmp_path):
    straight = Runner.from_cfg(make_cfg(tiny_motion, tmp_path / 'straight'))
    straight.train()
    total = EPOCHS * 16 // BATCH
    assert straight.iter == total

    # The straight run's checkpoint after 6 of 12 iterations (2 into epoch
    # 2) is what an interrupted run leaves; resume it in a fresh work dir.
    half = tmp_path / 'straight' / f'iter_{total // 2}.pth'
    cfg = make_cfg(tiny_motion, tmp_path / 'resumed')
    cfg.resume, cfg.load_from = True, str(half)
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == total and resumed.epoch == EPOCHS
    assert resumed.seed == straight.seed

    # Model: backbone, projector, key encoder (weights, BN statistics, EMA
    # step count), queue and pointer.
    expected, state = straight.model.state_dict(), resumed.model.state_dict()
    assert set(state) == set(expected)
    for part in ('backbone.', 'head.projector.', 'key_encoder.', 'head.queue'):
        assert any(k.startswith(part) for k in state), part
    for name, value in expected.items():
        assert torch.equal(state[name], value), name
    assert int(state['head.queue_ptr']) == (total * 2 * BATCH) % 64
    # Optimizer: its state and learning rate; and the scheduler.
    expected = straight.optim_wrapper.state_dict()
    state = resumed.optim_wrapper.state_dict()
    assert expected['param_groups'] == state['param_groups']
    assert len(state['state']) == len(list(resumed.model.parameters())) - \
        len(list(resumed.model.key_encoder.parameters()))
    for key, value in expected['state'].items():
        assert set(state['state'][key]) == set(value), key  # AdamW's moments
        for name, tensor in value.items():
            assert torch.equal(state['state'][key][name], tensor), (key, name)
    assert straight.optim_wrapper.get_lr() == resumed.optim_wrapper.get_lr()
    assert [s.state_dict() for s in straight.param_schedulers] == \
        [s.state_dict() for s in resumed.param_schedulers]
