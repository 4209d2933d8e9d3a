# Copyright (c) OpenMMLab. All rights reserved.
"""Strict collectives: NCCL's rules, checked under gloo on the CPU.

gloo accepts calls that NCCL refuses or turns into a hang: a non-contiguous
tensor (NCCL: ``ValueError: Tensors must be contiguous``), tensors whose
dtype or shape differ between ranks, ranks that call different collectives,
a CPU tensor handed to a collective directly. :func:`install` wraps the
``torch.distributed`` collectives of the process; every call then exchanges
its metadata with the other ranks (over the call's own gloo group) and
raises :class:`StrictCollectiveError` on every rank, naming the call site,
when any rank breaks a rule. Install it in every process of a
multi-process test, before the code under test runs (patching needs no
process group).

The rules, per collective:

- every tensor dense and contiguous (what ``ProcessGroupNCCL`` checks);
- every rank calls the same collective, with the same ``op`` and source /
  destination;
- one dtype across ranks and tensors; the shapes that NCCL pairs up agree
  (all_reduce: one shape; broadcast: one number of elements; all_gather:
  rank j's input is every rank's j-th output; all_to_all: rank i's j-th
  input is rank j's i-th output; all_to_all_single: the split sizes pair
  up);
- device: NCCL takes tensors on the GPU only. On a CPU-only machine every
  tensor is on the CPU, so the rule is checked on the path instead: a
  collective called by the project's code (``projects/``, ``tools/``) must
  come through a wrapper that moves its tensors to the backend's device
  (``get_comm_device``): MMEngine's ``mmengine.dist`` functions that do so,
  or a project function listed in :data:`DEVICE_SAFE_CALLERS`.

:func:`records` lists the checked calls of this process with the bytes
each received, for traffic counts.
"""
import functools
import inspect
import multiprocessing
import os
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The mmengine.dist functions that move their tensors to get_comm_device()
# before the collective (mmengine 0.10.7, mmengine/dist/dist.py). Not
# ``gather``: it hands its input to torch.distributed where it is.
MMENGINE_DEVICE_SAFE = frozenset({
    'all_reduce', 'all_gather', 'broadcast', 'sync_random_seed',
    '_broadcast_object_list', 'broadcast_object_list', '_all_gather_object',
    'all_gather_object', '_gather_object', 'gather_object',
    'collect_results_gpu', '_all_reduce_coalesced', 'barrier'
})

# Project functions that call torch.distributed themselves, after moving
# their tensors to get_comm_device(): (path in the repository, function).
DEVICE_SAFE_CALLERS = frozenset({
    ('projects/fame/models/utils/shuffle_bn.py', '_all_to_all_single'),
})

# Collectives whose arguments are Python objects (pickled by torch onto the
# device NCCL needs): only the same call on every rank is checked.
OBJECT_COLLECTIVES = ('all_gather_object', 'broadcast_object_list',
                      'gather_object', 'scatter_object_list')
TENSOR_COLLECTIVES = ('all_reduce', 'broadcast', 'reduce', 'all_gather',
                      'all_gather_into_tensor', 'gather', 'scatter',
                      'reduce_scatter', 'reduce_scatter_tensor', 'all_to_all',
                      'all_to_all_single', 'barrier')

# What the processes of run_in_processes find imported.
PRELOAD = ['torch', 'mmengine', 'mmaction.models', 'projects.fame']

_originals: Dict[str, Callable] = {}
_records: List['Record'] = []


class StrictCollectiveError(AssertionError):
    """A collective that NCCL would refuse, or that would hang there."""


@dataclass
class Record:
    """A checked collective call of this process.

    Attributes:
        name (str): The torch.distributed function.
        site (str): The calling code outside torch and MMEngine,
            ``path:line``.
        received_bytes (int): Bytes written into this process's output
            tensors (its own share included).
    """
    name: str
    site: str
    received_bytes: int


def _meta(tensor: Optional[torch.Tensor]) -> Optional[dict]:
    if tensor is None:
        return None
    dense = tensor.layout == torch.strided
    return dict(
        shape=tuple(tensor.shape),
        dtype=str(tensor.dtype),
        numel=tensor.numel(),
        bytes=tensor.numel() * tensor.element_size(),
        dense=dense,
        contiguous=dense and tensor.is_contiguous(),
        strides=tuple(tensor.stride()) if dense else None)


def _relative(path: str) -> str:
    path = os.path.abspath(path)
    if path.startswith(REPO_ROOT + os.sep):
        return os.path.relpath(path, REPO_ROOT)
    return path


def _call_sites() -> Tuple[str, Tuple[str, str], bool]:
    """The first caller outside torch, MMEngine and this module; the direct
    caller of torch.distributed; whether the path places tensors on the
    backend's device."""
    here = os.path.abspath(__file__)
    frame = sys._getframe(2)  # skip _call_sites and the wrapper
    direct = frame
    direct_file = _relative(direct.f_code.co_filename)
    site = None
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        parts = path.split(os.sep)
        if path != here and 'torch' not in parts and 'mmengine' not in parts:
            site = f'{_relative(path)}:{frame.f_lineno}'
            break
        frame = frame.f_back
    function = direct.f_code.co_name
    parts = os.path.abspath(direct.f_code.co_filename).split(os.sep)
    if 'mmengine' in parts and 'dist' in parts:
        safe = function in MMENGINE_DEVICE_SAFE
    elif direct_file.startswith(('projects' + os.sep, 'tools' + os.sep)):
        safe = (direct_file, function) in DEVICE_SAFE_CALLERS
    else:
        # torch's own code, MMEngine outside mmengine.dist, the tests.
        safe = True
    direct_site = f'{direct_file}:{direct.f_lineno}'
    return site or direct_site, (direct_site, function), safe


def _describe(name: str, args: Dict[str, Any]) -> dict:
    """What the other ranks need to check this rank's call."""
    tensors: Dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, torch.Tensor):
            tensors[key] = _meta(value)
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, torch.Tensor) for v in value):
            tensors[key] = [_meta(v) for v in value]
    scalars = {
        key: str(args[key])
        for key in ('op', 'src', 'dst', 'group_src', 'group_dst')
        if args.get(key) is not None
    }
    splits = {
        key: list(args[key]) if args.get(key) is not None else None
        for key in ('output_split_sizes', 'input_split_sizes') if key in args
    }
    return dict(name=name, tensors=tensors, scalars=scalars, splits=splits)


def _tensor_list(value: Any) -> List[dict]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _problems(calls: List[dict], rank: int) -> List[str]:
    """Everything NCCL would refuse in one collective of all ranks."""
    world = len(calls)
    problems = []
    names = {c['name'] for c in calls}
    if len(names) > 1:
        return [
            'ranks call different collectives: ' +
            ', '.join(f"rank {r}: {c['name']} at {c['site']}"
                      for r, c in enumerate(calls))
        ]
    name = calls[0]['name']
    for key in calls[0]['scalars']:
        values = {c['scalars'].get(key) for c in calls}
        if len(values) > 1:
            problems.append(f'{key} differs across ranks: {sorted(values)}')
    if name in OBJECT_COLLECTIVES:
        return problems
    for r, call in enumerate(calls):
        for key, value in call['tensors'].items():
            for i, meta in enumerate(_tensor_list(value)):
                where = f'rank {r}: {key}' + (f'[{i}]' if isinstance(
                    value, list) else '')
                if not meta['dense']:
                    problems.append(f'{where} is not a dense tensor')
                elif not meta['contiguous']:
                    problems.append(
                        f"{where} is not contiguous (shape {meta['shape']}, "
                        f"strides {meta['strides']}): NCCL raises "
                        "'Tensors must be contiguous'")
        if not call['device_safe']:
            direct, function = call['direct']
            problems.append(
                f'rank {r}: {direct} ({function}) calls torch.distributed.'
                f'{name} directly: NCCL needs the tensors on the GPU. Call '
                'mmengine.dist, which moves them to the backend device, or '
                'move them to get_comm_device() and list the function in '
                'DEVICE_SAFE_CALLERS')
    dtypes = {
        meta['dtype']
        for call in calls
        for value in call['tensors'].values()
        for meta in _tensor_list(value)
    }
    if len(dtypes) > 1:
        problems.append(f'more than one dtype: {sorted(dtypes)}')

    def tensor(r: int, key: str) -> dict:
        return calls[r]['tensors'].get(key)

    if name in ('all_reduce', 'reduce'):
        shapes = {tensor(r, 'tensor')['shape'] for r in range(world)}
        if len(shapes) > 1:
            problems.append(f'shapes differ across ranks: {sorted(shapes)}')
    elif name == 'broadcast':
        numels = {tensor(r, 'tensor')['numel'] for r in range(world)}
        if len(numels) > 1:
            problems.append('numbers of elements differ across ranks: '
                            f'{sorted(numels)}')
    elif name == 'all_gather':
        for r in range(world):
            outputs = tensor(r, 'tensor_list') or []
            if len(outputs) != world:
                problems.append(f'rank {r}: {len(outputs)} outputs for '
                                f'{world} ranks')
                continue
            for j in range(world):
                if outputs[j]['shape'] != tensor(j, 'tensor')['shape']:
                    problems.append(f"rank {r}: output {j} has shape "
                                    f"{outputs[j]['shape']}, rank {j} sends "
                                    f"{tensor(j, 'tensor')['shape']}")
    elif name == 'all_gather_into_tensor':
        inputs = {tensor(r, 'input_tensor')['shape'] for r in range(world)}
        if len(inputs) > 1:
            problems.append(f'input shapes differ: {sorted(inputs)}')
        for r in range(world):
            if (tensor(r, 'output_tensor')['numel']
                    != world * tensor(r, 'input_tensor')['numel']):
                problems.append(f'rank {r}: output is not world_size x '
                                'the input')
    elif name == 'all_to_all':
        for i in range(world):
            inputs = tensor(i, 'input_tensor_list') or []
            for j in range(world):
                outputs = tensor(j, 'output_tensor_list') or []
                if len(inputs) != world or len(outputs) != world:
                    problems.append('a tensor list is not one per rank')
                    break
                if inputs[j]['shape'] != outputs[i]['shape']:
                    problems.append(
                        f"rank {i} sends {inputs[j]['shape']} to rank {j}, "
                        f"which expects {outputs[i]['shape']}")
    elif name == 'all_to_all_single':
        rows = []
        for r in range(world):
            sizes = {}
            for key, arg in (('input', 'input_split_sizes'),
                             ('output', 'output_split_sizes')):
                meta = tensor(r, key)
                split = calls[r]['splits'].get(arg)
                if split is None:
                    if meta['shape'][0] % world:
                        problems.append(f'rank {r}: {key} does not split '
                                        'evenly')
                    split = [meta['shape'][0] // world] * world
                elif sum(split) != meta['shape'][0]:
                    problems.append(f'rank {r}: {arg} do not add up to the '
                                    f"{key}'s first dimension")
                sizes[key] = split
            rows.append(sizes)
        trailing = {
            tensor(r, k)['shape'][1:]
            for r in range(world)
            for k in ('input', 'output')
        }
        if len(trailing) > 1:
            problems.append(f'rows of different shapes: {sorted(trailing)}')
        for i in range(world):
            for j in range(world):
                if rows[i]['input'][j] != rows[j]['output'][i]:
                    problems.append(
                        f"rank {i} sends {rows[i]['input'][j]} rows to rank "
                        f"{j}, which expects {rows[j]['output'][i]}")
    return problems


def _received_bytes(name: str, described: dict, rank: int) -> int:
    tensors = described['tensors']
    if name == 'broadcast':
        src = described['scalars'].get('src')
        return 0 if src == str(rank) else tensors['tensor']['bytes']
    keys = {
        'all_gather': 'tensor_list',
        'all_gather_into_tensor': 'output_tensor',
        'all_to_all': 'output_tensor_list',
        'all_to_all_single': 'output',
        'all_reduce': 'tensor',
    }
    if name not in keys or keys[name] not in tensors:
        return 0
    return sum(m['bytes'] for m in _tensor_list(tensors[keys[name]]))


def _checked(name: str, original: Callable) -> Callable:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        arguments = dict(bound.arguments)
        group = arguments.get('group')
        site, direct, safe = _call_sites()
        described = _describe(name, arguments)
        described.update(site=site, direct=direct, device_safe=safe)
        world = dist.get_world_size(group)
        calls: List[Optional[dict]] = [None] * world
        _originals['all_gather_object'](calls, described, group=group)
        rank = dist.get_rank(group)
        problems = _problems(calls, rank)
        if problems:
            raise StrictCollectiveError(
                f'strict collectives: torch.distributed.{name} at {site}:\n' +
                '\n'.join(f'  - {p}' for p in problems))
        _records.append(
            Record(name, site, _received_bytes(name, described, rank)))
        return original(*args, **kwargs)

    wrapper.__strict_original__ = original
    return wrapper


def install() -> None:
    """Check every torch.distributed collective of this process."""
    if _originals:
        return
    _originals['all_gather_object'] = dist.all_gather_object
    for name in TENSOR_COLLECTIVES + OBJECT_COLLECTIVES:
        original = getattr(dist, name)
        _originals[name] = original
        setattr(dist, name, _checked(name, original))


def uninstall() -> None:
    """Restore the collectives :func:`install` wrapped."""
    for name, original in _originals.items():
        setattr(dist, name, original)
    _originals.clear()


@contextmanager
def strict_collectives() -> Iterator[List[Record]]:
    """Check the collectives called inside; yields this process's records.
    """
    installed = bool(_originals)
    install()
    clear_records()
    try:
        yield _records
    finally:
        if not installed:
            uninstall()


def records() -> List[Record]:
    """The checked calls of this process so far."""
    return list(_records)


def clear_records() -> None:
    """Forget the calls recorded so far."""
    _records.clear()


def free_port() -> int:
    """A TCP port free on this machine now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _process(rank: int, world_size: int, port: int, fn: Callable, args: tuple,
             results: dict) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size)
    try:
        with strict_collectives():
            results[rank] = fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def run_in_processes(fn: Callable, world_size: int, *args) -> List[Any]:
    """Run ``fn(rank, world_size, *args)`` in gloo processes, strictly.

    Args:
        fn (Callable): A module-level function (spawned processes import
            it); its return value must be picklable.
        world_size (int): The number of processes.
        *args: More arguments of ``fn``.

    Returns:
        list: What ``fn`` returned, by rank.
    """
    # Forked from a server that imported the project once, rather than each
    # process importing it anew: a few seconds per process.
    multiprocessing.set_forkserver_preload(PRELOAD)
    with mp.Manager() as manager:
        results = manager.dict()
        mp.start_processes(
            _process,
            args=(world_size, free_port(), fn, args, results),
            nprocs=world_size,
            join=True,
            start_method='forkserver')
        return [results[rank] for rank in range(world_size)]
