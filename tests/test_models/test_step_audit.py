# Copyright (c) OpenMMLab. All rights reserved.
"""The pretraining step on the ``meta`` device: no loop over clips, no stall.

``meta`` stands in for an accelerator: its tensors have shapes but no data,
so a whole MoCo + FAME ``train_step`` runs in a fraction of a second and
every op it dispatches can be counted. A Python loop over clips makes the
number of ops grow with the batch; a host read of a device value (``.item()``,
``if tensor``, ``nonzero``, boolean indexing) makes a GPU synchronise; a
blocking host-to-device copy does too.
"""
import contextlib
import copy
import traceback
from pathlib import Path
from typing import List

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import projects.fame  # noqa: F401
from tests.toy_models import narrow_backbone

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_'
# Ops that read a device tensor's value on the host.
HOST_READ_OPS = frozenset({
    'aten::_local_scalar_dense', 'aten::nonzero', 'aten::masked_select',
    'aten::_unique2', 'aten::unique_dim', 'aten::unique_consecutive',
    'aten::bincount', 'aten::histc', 'aten::repeat_interleave', 'aten::equal',
    'aten::is_nonzero'
})
# Host reads a step makes on purpose, whatever the batch (each answered
# True / 1 on meta, so the branch that answer takes is the one audited):
# MMEngine's ExponentialMovingAverage tests its step counter, MoCoHead's
# enqueue the keys' finiteness, the non-finite skip its flag (the Runner
# reads the loss on the host at every iteration anyway).
HOST_READ_BUDGET = 3
# Fused optimizer kernels have no meta implementation: one op, no effect.
FUSED_OPTIMIZER_OPS = frozenset(
    {'aten::_fused_sgd_', 'aten::_fused_adam_', 'aten::_fused_adamw_'})
# kornia's copy of its host-drawn parameters: non-blocking on CUDA, blocking
# only on other devices (meta included).
KORNIA_NON_BLOCKING = '_to_device_nonblocking'


def caller() -> str:
    """``file:line (function)`` of the innermost frame outside torch.

    Called from :meth:`StepAudit.__torch_dispatch__`, whose frame and its
    own are left out.
    """
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = frame.filename.replace('\\', '/')
        if '/torch/' not in path:
            return f'{Path(path).name}:{frame.lineno} ({frame.name})'
    return '?'


class StepAudit(TorchDispatchMode):
    """Count device and host ops; record host reads and blocking copies.

    A host read of a meta scalar (``.item()``, ``if tensor``) is answered
    with True / 1, so that the rest of the path is audited too; other host
    reads (``nonzero``, boolean indexing) and copies to the host are
    recorded, then fail: meta tensors have no data.
    """

    def __init__(self) -> None:
        super().__init__()
        self.device_ops = 0
        self.host_ops = 0
        self.host_reads: List[str] = []
        self.blocking_copies: List[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [
            t for t in tree_flatten((args, kwargs))[0]
            if isinstance(t, Tensor)
        ]
        on_device = any(t.device.type == 'meta' for t in tensors)
        name = func.name().split('.')[0]
        boolean_index = name == 'aten::index' and any(t.dtype == torch.bool
                                                      for t in tensors[1:])
        if on_device and (name in HOST_READ_OPS or boolean_index):
            self.host_reads.append(f'{name} at {caller()}')
            if name == 'aten::_local_scalar_dense':
                dtype = args[0].dtype
                return True if dtype == torch.bool else (
                    1.0 if dtype.is_floating_point else 1)
        if on_device and name in FUSED_OPTIMIZER_OPS:
            self.device_ops += 1
            return None
        out = func(*args, **kwargs)
        if (name == 'aten::_to_copy' and args[0].device.type == 'cpu'
                and out.device.type == 'meta') or (
                    name == 'aten::copy_' and args[0].device.type == 'meta'
                    and args[1].device.type == 'cpu'):
            # A host-to-device copy (one to the host fails: meta has no
            # data). Counted apart from the device ops: the data samples'
            # labels are copied one by one.
            blocking = not (kwargs.get('non_blocking', False) or
                            (name == 'aten::copy_' and args[2:3] == (True, )))
            if blocking and KORNIA_NON_BLOCKING not in {
                    f.name
                    for f in traceback.extract_stack()
            }:
                self.blocking_copies.append(f'{name} at {caller()}')
        elif on_device:
            self.device_ops += 1
        else:
            self.host_ops += 1
        return out


@pytest.fixture(scope='module')
def meta_moco():
    """The shipped MoCo + FAME model, narrowed, on meta, and its optimizer.

    The optimizer wrapper is the shipped schedule's (fused SGD, skipping
    non-finite steps).
    """
    init_default_scope('mmaction')
    cfg = copy.deepcopy(
        Config.fromfile(str(CONFIGS / 'models' /
                            'fame_r2plus1d_r18.py')).model.to_dict())
    cfg['head'].update(
        in_channels=narrow_backbone(cfg['backbone'], 4), queue_len=64)
    with torch.device('meta'):
        model = MODELS.build(cfg)
    model = model.to('meta').train()
    optim_cfg = Config.fromfile(
        str(CONFIGS / 'schedules' / 'sgd_step_200e.py')).optim_wrapper
    optim_wrapper = build_optim_wrapper(model, optim_cfg.to_dict())
    # PyTorch refuses meta parameters in a fused optimizer (once, at its
    # first step); StepAudit answers the fused kernel itself.
    optim_wrapper.optimizer._need_device_dtype_check_for_fused = False
    return model, optim_wrapper


@pytest.fixture
def meta_autocast(monkeypatch):
    """``torch.autocast`` on meta: a no-op (autocast has no meta backend).

    The step turns autocast off around its float32 parts, which on meta
    has nothing to turn off.
    """
    autocast = torch.autocast
    monkeypatch.setattr(
        torch, 'autocast',
        lambda device_type, *args, **kwargs: contextlib.nullcontext()
        if device_type == 'meta' else autocast(device_type, *args, **kwargs))


def two_view_batch(num_videos: int) -> dict:
    """Host uint8 clips and labelled data samples, as the dataloader gives.

    Collated by the shipped two-view dataloader's collate function.
    """
    collate = FUNCTIONS.get(
        Config.fromfile(str(
            CONFIGS / 'datasets' /
            'kinetics400_two_view.py')).train_dataloader.collate_fn['type'])
    return collate([[
        dict(
            inputs=torch.zeros(1, 3, 4, 32, 32, dtype=torch.uint8),
            data_samples=ActionDataSample().set_gt_labels(0)) for _ in range(2)
    ] for _ in range(num_videos)])


def audited_step(model, optim_wrapper, num_videos: int) -> StepAudit:
    """One ``train_step`` on meta, under a fresh :class:`StepAudit`."""
    batch = two_view_batch(num_videos)
    with StepAudit() as audit:
        log = model.train_step(batch, optim_wrapper)
    assert set(log) == {'loss', 'loss_contrast', 'top1_acc'}
    return audit


def test_audit_sees_loops_host_reads_and_copies():
    meta = torch.device('meta')
    counts = []
    for num in (2, 4):
        batch = torch.empty(num, 3, 4, 4, device=meta)
        with StepAudit() as audit:
            torch.stack([clip * 2 for clip in batch])  # a loop over clips
        counts.append(audit.device_ops)
    assert counts[1] > counts[0]

    with StepAudit() as audit:
        x = torch.empty(4, device=meta)
        if x.sum() > 0:  # a host read: answered with True on meta
            x = x + 1
        torch.zeros(4).to(meta, non_blocking=True)
        torch.zeros(4).to(meta)
    assert len(audit.host_reads) == 1
    assert audit.host_reads[0].startswith('aten::_local_scalar_dense at ')
    assert 'test_step_audit.py' in audit.host_reads[0]
    assert len(audit.blocking_copies) == 1
    assert audit.device_ops > 0


def test_train_step_has_no_loop_over_clips_and_no_unexpected_sync(
        meta_moco, meta_autocast):
    model, optim_wrapper = meta_moco
    audited_step(model, optim_wrapper, 2)  # the EMA's first update copies
    small, large = (audited_step(model, optim_wrapper, n) for n in (2, 4))
    assert small.device_ops > 0
    assert (small.device_ops, small.host_ops) == (large.device_ops,
                                                  large.host_ops)
    assert small.host_reads == large.host_reads
    assert len(small.host_reads) <= HOST_READ_BUDGET, small.host_reads
    assert not small.blocking_copies and not large.blocking_copies, (
        small.blocking_copies)
