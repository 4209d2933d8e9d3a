# Copyright (c) OpenMMLab. All rights reserved.
"""The strict collectives mode of the multi-process tests (gloo) refuses
what NCCL would refuse, on every rank, naming the call site."""
import os
from typing import Callable, Dict, Optional

import torch
import torch.distributed as dist
from mmengine import dist as mmengine_dist

from tests.strict_collectives import (REPO_ROOT, StrictCollectiveError,
                                      records, run_in_processes)

HERE = 'tests/test_models/test_strict_collectives.py'


def _error(call: Callable[[], None]) -> Optional[str]:
    try:
        call()
    except StrictCollectiveError as err:
        return str(err)
    return None


def _transposed_all_gather(rank: int) -> None:
    # The layout kornia's VideoSequential(data_format='BCTHW') returns.
    view = torch.zeros(2, 8, 3, 4, 4).transpose(1, 2)
    mmengine_dist.all_gather(view)


def _dtype_per_rank(rank: int) -> None:
    mmengine_dist.all_reduce(
        torch.ones(2, dtype=torch.float64 if rank else torch.float32))


def _shape_per_rank(rank: int) -> None:
    mmengine_dist.all_gather(torch.ones(2 + rank))


def _different_collectives(rank: int) -> None:
    if rank:
        mmengine_dist.broadcast(torch.ones(2))
    else:
        mmengine_dist.all_reduce(torch.ones(2))


def _uneven_all_to_all(rank: int) -> None:
    # Rank 0 expects 2 rows from itself, and sends 1.
    dist.all_to_all_single(
        torch.empty(3, 2), torch.ones(3, 2), [2 - rank, 1 + rank], [1, 2])


def _direct_call_in_project(rank: int) -> None:
    # Code of the project calling torch.distributed with a tensor it made
    # (on the CPU also under NCCL), not through mmengine.dist.
    path = os.path.join(REPO_ROOT, 'projects', 'fame', 'made_up.py')
    code = compile('dist.all_reduce(torch.ones(1))', path, 'exec')
    exec(code, dict(dist=dist, torch=torch))


def _valid_calls(rank: int) -> None:
    mmengine_dist.all_gather(torch.ones(2, 3))
    mmengine_dist.broadcast(torch.arange(4) * rank)
    mmengine_dist.all_reduce(torch.ones(2), op='min')
    dist.all_to_all([torch.empty(3) for _ in range(2)], [torch.ones(3)] * 2)
    splits = [1 + rank, 2 - rank]
    dist.all_to_all_single(torch.empty(3, 2), torch.ones(3, 2), splits, splits)
    mmengine_dist.all_gather_object(dict(rank=rank))
    dist.barrier()


CASES: Dict[str, Callable[[int], None]] = dict(
    transposed_all_gather=_transposed_all_gather,
    dtype_per_rank=_dtype_per_rank,
    shape_per_rank=_shape_per_rank,
    different_collectives=_different_collectives,
    uneven_all_to_all=_uneven_all_to_all,
    direct_call_in_project=_direct_call_in_project,
    valid_calls=_valid_calls,
)


def _worker(rank: int, world_size: int) -> dict:
    errors = {name: _error(lambda: case(rank)) for name, case in CASES.items()}
    return dict(
        errors=errors, records=[(r.name, r.received_bytes) for r in records()])


def test_strict_collectives_refuse_what_nccl_refuses():
    results = run_in_processes(_worker, 2)
    # Every rank raises, for a problem of any rank: none waits for another
    # in a collective. (The first line names the rank's own call.)
    problems = [{
        name: error and error.split('\n', 1)[1]
        for name, error in result['errors'].items()
    } for result in results]
    assert problems[0] == problems[1]
    errors = results[0]['errors']
    assert errors['valid_calls'] is None
    error = errors['transposed_all_gather']
    assert error.startswith('strict collectives: torch.distributed.'
                            f'all_gather at {HERE}:')
    assert "rank 0: tensor is not contiguous (shape (2, 3, 8, 4, 4)" in error
    assert 'Tensors must be contiguous' in error
    assert "more than one dtype: ['torch.float32', 'torch.float64']" in \
        errors['dtype_per_rank']
    assert 'rank 0: output 1 has shape (2,), rank 1 sends (3,)' in \
        errors['shape_per_rank']
    assert 'ranks call different collectives: rank 0: all_reduce' in \
        errors['different_collectives']
    assert 'rank 0 sends 1 rows to rank 0, which expects 2' in \
        errors['uneven_all_to_all']
    error = errors['direct_call_in_project']
    assert 'projects/fame/made_up.py:1 (<module>) calls ' \
        'torch.distributed.all_reduce directly' in error
    # The valid calls ran, and their bytes were counted: all_gather 2 x 6
    # float32, broadcast 4 int64 on rank 1 only, all_reduce 2 float32,
    # all_to_all 2 x 3 float32, all_to_all_single 3 rows of 2 float32.
    for rank, result in enumerate(results):
        received = dict(result['records'][-7:-2])
        assert received == dict(
            all_gather=48,
            broadcast=32 * rank,
            all_reduce=8,
            all_to_all=24,
            all_to_all_single=24)
