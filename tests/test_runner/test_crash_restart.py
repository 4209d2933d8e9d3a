# Copyright (c) OpenMMLab. All rights reserved.
"""Kill a training process with SIGKILL mid-epoch, restart it with
``--resume``, and check that it completes as an uninterrupted run would."""
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch

from projects.fame.utils import load_checkpoint_safely
from tools.data.motion_dataset import generate

ROOT = Path(__file__).resolve().parents[2]

BATCH, QUEUE_LEN, EPOCHS = 4, 64, 3
ITERS = EPOCHS * 16 // BATCH  # 16 tiny videos
KILL_AFTER = 6  # iterations: in the middle of epoch 2

CONFIG = """
_base_ = [{base!r}]
model = dict(
    head=dict(in_channels=64, queue_len={queue_len}))
train_dataloader = dict(
    batch_size={batch},
    num_workers=0,
    persistent_workers=False,
    prefetch_factor=None,
    dataset=dict(
        ann_file={ann_file!r}, data_prefix=dict(video={videos!r})))
train_cfg = dict(max_epochs={epochs})
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=2, max_keep_ckpts=3))
"""


@pytest.fixture(scope='module')
def config(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('crash')
    generate(str(root / 'motion'), size='tiny', seed=0, progress=False)
    path = root / 'fame_tiny_crash.py'
    path.write_text(
        CONFIG.format(
            base=str(ROOT / 'configs' / 'fame_r3d_tiny_motion.py'),
            queue_len=QUEUE_LEN,
            batch=BATCH,
            ann_file=str(root / 'motion' / 'pretrain.txt'),
            videos=str(root / 'motion' / 'videos'),
            epochs=EPOCHS))
    return path


def train_command(config: Path, work_dir: Path, *flags: str) -> list:
    return [
        sys.executable,
        str(ROOT / 'tools' / 'train.py'),
        str(config), '--work-dir',
        str(work_dir), *flags
    ]


def checkpoints(work_dir: Path) -> dict:
    return {int(p.stem.split('_')[1]): p for p in work_dir.glob('iter_*.pth')}


def test_sigkill_mid_epoch_then_resume(config, tmp_path):
    work_dir = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    process = subprocess.Popen(
        train_command(config, work_dir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while KILL_AFTER not in checkpoints(work_dir):
        assert process.poll() is None, 'training ended before the kill'
        assert time.time() < deadline, 'no checkpoint in time'
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL

    # No checkpoint on disk is truncated; each is the iteration it names.
    saved = checkpoints(work_dir)
    assert KILL_AFTER in saved and max(saved) < ITERS
    for step, path in saved.items():
        assert zipfile.is_zipfile(path), path  # complete
        assert load_checkpoint_safely(path)['meta']['iter'] == step
    # The pointer names the newest checkpoint, or the one before when the
    # kill fell between the checkpoint's rename and the pointer's. (Killed
    # inside MMEngine's in-place write of the pointer, it is empty, and the
    # restart points it at the newest complete checkpoint.)
    pointed = (work_dir / 'last_checkpoint').read_text()
    if not pointed:
        pointed = str(saved[max(saved)])
    latest = next(step for step, path in saved.items() if str(path) == pointed)
    assert latest >= sorted(saved)[-2]

    result = subprocess.run(
        train_command(config, work_dir, '--resume'),
        env=env,
        capture_output=True,
        text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert f'Auto resumed from the latest checkpoint {pointed}' in log
    resumed = re.findall(r'resumed epoch: (\d+), iter: (\d+)', log)
    # Saved after the step, within its epoch (the epoch's end, if it was
    # the last step, runs again on resume).
    epoch = (latest - 1) // (ITERS // EPOCHS)
    assert resumed == [(str(epoch), str(latest))]

    final = load_checkpoint_safely(work_dir / f'iter_{ITERS}.pth')
    assert final['meta']['iter'] == ITERS
    assert final['meta']['epoch'] == EPOCHS - 1  # saved within the last one
    # One loss per iteration: none was trained twice or skipped.
    losses = final['message_hub']['log_scalars']['train/loss']
    assert len(losses.data[0]) == ITERS
    state = final['state_dict']
    assert int(state['key_encoder.steps']) == ITERS
    assert int(state['head.queue_ptr']) == ITERS * 2 * BATCH % QUEUE_LEN
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())
    for path in work_dir.glob('*.pth'):
        assert zipfile.is_zipfile(path), path  # complete
    assert not list(work_dir.glob('.*.partial'))
