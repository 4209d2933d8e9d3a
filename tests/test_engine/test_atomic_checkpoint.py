# Copyright (c) OpenMMLab. All rights reserved.
import errno
import os
import uuid
import zipfile
from pathlib import Path
from typing import Optional
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner
from torch import nn

import projects.fame  # noqa: F401
from projects.fame.engine import fileio
from projects.fame.utils import CheckpointMismatchError, load_checkpoint_safely
from tests.other_run import another_run_holding
from tests.toy_models import ToyDataset, ToyModel
from tools.cli import exit_on_user_errors


def toy_loader(length: int) -> dict:
    return dict(
        dataset=ToyDataset(length),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        num_workers=0)


def build_runner(work_dir: Path,
                 max_iters: int,
                 val_interval: int = 1000,
                 checkpoint: Optional[dict] = None,
                 model: Optional[nn.Module] = None,
                 **kwargs) -> Runner:
    return Runner(
        model=model or ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'atomic_{uuid.uuid4().hex}',
        # Longer than a run: MMEngine sleeps 2 s when a loader restarts.
        train_dataloader=toy_loader(16),
        train_cfg=dict(
            by_epoch=False, max_iters=max_iters, val_interval=val_interval),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(
                type='AtomicCheckpointHook',
                interval=1,
                by_epoch=False,
                max_keep_ckpts=3,
                **(checkpoint or {}))),
        default_scope='mmaction',
        log_level='WARNING',
        **kwargs)


def test_write_atomic_is_all_or_nothing(tmp_path):
    target = tmp_path / 'sub' / 'file.bin'
    fileio.write_atomic(b'old', target)
    assert target.read_bytes() == b'old'
    with mock.patch.object(fileio.os, 'fsync', side_effect=OSError('disk')):
        with pytest.raises(OSError, match='disk'):
            fileio.write_atomic(b'new' * 1000, target)
    assert target.read_bytes() == b'old'
    assert os.listdir(target.parent) == ['file.bin']  # no temporary left
    fileio.write_atomic(b'new', target)
    assert target.read_bytes() == b'new'
    # A full disk: the error names the file.
    full = OSError(errno.ENOSPC, 'No space left on device')
    with mock.patch.object(fileio.os, 'fsync', side_effect=full):
        with pytest.raises(
                OSError,
                match=f"No space left on device: '{target}'"):
            fileio.write_atomic(b'newer', target)
    assert target.read_bytes() == b'new'


def test_stale_temporaries_are_removed(tmp_path):
    killed = tmp_path / '.iter_4.pth.k2j3h4.partial'
    killed.write_bytes(b'half a checkpoint')
    kept = [tmp_path / '.hidden', tmp_path / 'iter_2.pth']
    for path in kept:
        path.write_bytes(b'x')
    assert fileio.remove_stale_temporaries(tmp_path) == [str(killed)]
    assert sorted(os.listdir(tmp_path)) == ['.hidden', 'iter_2.pth']


def test_checkpoints_and_pointer_are_replaced_atomically(tmp_path):
    replaced = []

    def replace(src, dst):
        replaced.append(os.path.basename(dst))
        os.rename(src, dst)

    with mock.patch.object(fileio.os, 'replace', side_effect=replace):
        build_runner(tmp_path, max_iters=3).train()
    assert replaced == [
        'iter_1.pth', 'last_checkpoint', 'iter_2.pth', 'last_checkpoint',
        'iter_3.pth', 'last_checkpoint'
    ]
    assert (tmp_path / 'last_checkpoint').read_text() == \
        str(tmp_path / 'iter_3.pth')
    assert load_checkpoint_safely(tmp_path / 'iter_3.pth')['meta']['iter'] \
        == 3


def test_resume_repairs_a_pointer_a_crash_left_empty(tmp_path):
    build_runner(tmp_path, max_iters=3).train()
    pointer = tmp_path / 'last_checkpoint'
    # Killed between MMEngine's truncating open of the pointer and its write,
    # before the hook replaced it atomically.
    pointer.write_text('')
    # The newest checkpoint is the last written one.
    os.utime(tmp_path / 'iter_1.pth', (1, 1))
    (tmp_path / '.iter_4.pth.abc.partial').write_bytes(b'x')

    runner = build_runner(tmp_path, max_iters=4, resume=True)
    with mock.patch.object(
            Runner, 'resume', autospec=True,
            side_effect=Runner.resume) as resume:
        runner.train()
    assert resume.call_args.args[1] == str(tmp_path / 'iter_3.pth')
    assert pointer.read_text() == str(tmp_path / 'iter_4.pth')
    final = load_checkpoint_safely(tmp_path / 'iter_4.pth')
    assert final['meta']['iter'] == 4
    # One loss entry per iteration: the resumed run continued the history.
    loss = final['message_hub']['log_scalars']['train/loss']
    assert len(loss.data[0]) == 4
    assert not list(tmp_path.glob('.*.partial'))


def test_resuming_another_models_checkpoint_is_refused(tmp_path):
    build_runner(tmp_path, max_iters=2).train()
    # As many parameters, of other shapes: MMEngine would load the
    # optimizer state and fail at the first step.
    wider = ToyModel()
    wider.linear = nn.Linear(3, 1)
    initial = {k: v.clone() for k, v in wider.state_dict().items()}
    runner = build_runner(tmp_path, max_iters=4, resume=True, model=wider)
    with pytest.raises(
            CheckpointMismatchError,
            match=r'^it fills only 1 of the 2 tensors of the model: 1 have '
            r'another shape \(e.g. linear.weight: checkpoint \(1, 2\) vs '
            r'model \(1, 3\)\)\.$'):
        runner.train()
    assert runner.iter == 0
    for key, value in wider.state_dict().items():
        assert torch.equal(value, initial[key]), key
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'iter_1.pth', 'iter_2.pth'
    ]
    # the tools print it as one message naming the checkpoint
    runner = build_runner(tmp_path, max_iters=4, resume=True, model=wider)
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(tmp_path)))
    with pytest.raises(SystemExit) as info, exit_on_user_errors(cfg):
        runner.train()
    assert str(info.value).startswith(
        f'error: cannot resume from the latest checkpoint in {tmp_path}: '
        'it fills only 1 of the 2 tensors of the model')
    # loading weights (not resuming) is not checked: a head may differ
    build_runner(
        tmp_path / 'load',
        max_iters=1,
        load_from=str(tmp_path / 'iter_2.pth'),
        model=ToyModel()).train()


@pytest.mark.parametrize('umask, mode', [(0o022, 0o644), (0o002, 0o664),
                                         (0o077, 0o600)])
def test_written_files_keep_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        build_runner(tmp_path, max_iters=1).train()
    finally:
        os.umask(old)
    for name in ('iter_1.pth', 'last_checkpoint'):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_a_work_dir_in_use_is_refused(tmp_path):
    # Another live run holds the work dir and is writing a checkpoint.
    in_flight = tmp_path / '.iter_2.pth.abc.partial'
    in_flight.write_bytes(b'half a checkpoint')
    with another_run_holding(tmp_path) as other:
        with pytest.raises(RuntimeError, match=f'{tmp_path} is in use by '
                           f'another run \\(pid {other.pid}\\)'):
            build_runner(tmp_path, max_iters=1).train()
        assert in_flight.exists()
        assert not (tmp_path / 'iter_1.pth').exists()
    # Once that run is gone (killed, even), the dir is free again.
    build_runner(tmp_path, max_iters=1).train()
    assert not in_flight.exists()
    assert (tmp_path / 'iter_1.pth').exists()


def test_an_out_dir_in_use_is_refused(tmp_path):
    # Two runs whose work dirs differ but share out_dir/<work dir name>.
    shared = tmp_path / 'out' / 'run'
    shared.mkdir(parents=True)
    in_flight = shared / '.iter_2.pth.abc.partial'
    in_flight.write_bytes(b'half a checkpoint')
    with another_run_holding(shared) as other:
        with pytest.raises(RuntimeError, match=f'{shared} is in use by '
                           f'another run \\(pid {other.pid}\\)'):
            build_runner(
                tmp_path / 'a' / 'run',
                max_iters=1,
                checkpoint=dict(out_dir=str(tmp_path / 'out'))).train()
        assert in_flight.exists()
    runner = build_runner(
        tmp_path / 'a' / 'run',
        max_iters=1,
        checkpoint=dict(out_dir=str(tmp_path / 'out')))
    runner.train()
    assert (shared / 'iter_1.pth').exists() and not in_flight.exists()
    # released at the end of the run
    assert str(shared) not in fileio._held_locks


class NegativeError(BaseMetric):
    """Minus the mean absolute error of the toy model: higher is better."""

    def process(self, data_batch, data_samples) -> None:
        labels = data_batch['labels']
        self.results += [(float(p), float(y))
                         for p, y in zip(data_samples, labels)]

    def compute_metrics(self, results) -> dict:
        return dict(neg_error=-sum(abs(p - y) for p, y in results) /
                    len(results))


def test_best_checkpoint_is_written_atomically(tmp_path):
    """The transfer configs' hook: save_best through the atomic backend."""
    runner = build_runner(
        tmp_path,
        max_iters=3,
        val_interval=1,
        checkpoint=dict(save_best='neg_error', rule='greater'),
        val_dataloader=toy_loader(4),
        val_cfg=dict(),
        val_evaluator=[NegativeError()])
    runner.train()
    best = sorted(tmp_path.glob('best_neg_error_iter_*.pth'))
    assert len(best) == 1 and zipfile.is_zipfile(best[0])
    assert not list(tmp_path.glob('.*.partial'))
