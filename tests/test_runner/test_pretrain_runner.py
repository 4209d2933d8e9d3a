# Copyright (c) OpenMMLab. All rights reserved.
"""Pretrain through MMEngine's Runner on tiny generated videos, then resume."""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import projects.fame  # noqa: F401
from tools.data.motion_dataset import cfg_options

ROOT = Path(__file__).resolve().parents[2]

BATCH = 4
QUEUE_LEN = 64


def make_cfg(data_root: Path, work_dir: Path, max_epochs: int) -> Config:
    cfg = Config.fromfile(
        str(ROOT / 'configs' / 'fame_r3d_tiny_motion.py'))
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(cfg_options(str(data_root)))
    cfg.merge_from_dict({
        'model.head.queue_len': QUEUE_LEN,
        'train_dataloader.batch_size': BATCH,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.prefetch_factor': None,
        'train_cfg.max_epochs': max_epochs,
        'default_hooks.logger.interval': 1,
    })
    return cfg


def test_pretrain_then_resume(tiny_motion, tmp_path):
    num_videos = len((tiny_motion / 'pretrain.txt').read_text().splitlines())
    iters_per_epoch = num_videos // BATCH  # DefaultSampler keeps the tail

    runner = Runner.from_cfg(make_cfg(tiny_motion, tmp_path, max_epochs=2))
    runner.train()
    model = runner.model
    assert runner.iter == 2 * iters_per_epoch
    keys_per_iter = 2 * BATCH  # both views' keys are enqueued
    assert int(model.head.queue_ptr) == \
        (runner.iter * keys_per_iter) % QUEUE_LEN
    assert int(model.key_encoder.steps) == runner.iter
    for name, param in model.named_parameters():
        assert torch.isfinite(param).all(), name
    checkpoint = tmp_path / 'epoch_2.pth'
    # MMEngine's checkpoints load with torch's safe default (weights only).
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    saved_queue = state['state_dict']['head.queue']
    assert torch.equal(saved_queue, model.head.queue)

    cfg = make_cfg(tiny_motion, tmp_path, max_epochs=3)
    cfg.resume = True  # load_from=None: the latest checkpoint of work_dir
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    model = resumed.model
    # Had the iteration, pointer or EMA step count not been restored, these
    # would count one epoch only.
    assert resumed.iter == 3 * iters_per_epoch
    assert int(model.head.queue_ptr) == \
        (resumed.iter * keys_per_iter) % QUEUE_LEN
    assert int(model.key_encoder.steps) == resumed.iter
    # The first resumed step enqueued into the saved queue: the slots not
    # yet overwritten since are those of the checkpoint.
    untouched = torch.ones(QUEUE_LEN, dtype=torch.bool)
    start = (2 * iters_per_epoch * keys_per_iter) % QUEUE_LEN
    written = iters_per_epoch * keys_per_iter
    untouched[(start + torch.arange(min(written, QUEUE_LEN))) %
              QUEUE_LEN] = False
    assert torch.equal(model.head.queue[untouched], saved_queue[untouched])
