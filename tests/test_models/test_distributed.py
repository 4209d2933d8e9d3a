# Copyright (c) OpenMMLab. All rights reserved.
"""Queue and shuffle BN across two CPU processes (gloo)."""
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD_SIZE = 2
BATCH = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, results: dict) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=WORLD_SIZE)
    from projects.fame.models.heads import MoCoHead
    from projects.fame.models.utils import (batch_shuffle_ddp,
                                            batch_unshuffle_ddp)
    torch.manual_seed(rank)  # different local data and head init per rank
    x = torch.arange(BATCH, dtype=torch.float32)[:, None] + 10 * rank
    shuffled, unshuffle = batch_shuffle_ddp(x)
    restored = batch_unshuffle_ddp(shuffled * 2, unshuffle)

    head = MoCoHead(in_channels=4, feat_dim=2, queue_len=8)
    dist.broadcast(head.queue, src=0)  # the model wrapper does this
    keys = torch.full((BATCH, 2), float(rank))
    head.enqueue(keys)
    results[rank] = dict(
        shuffled=shuffled,
        restored=restored,
        queue=head.queue.clone(),
        ptr=int(head.queue_ptr))
    dist.destroy_process_group()


def test_queue_and_shuffle_bn_across_processes():
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(
            _worker,
            args=(_free_port(), results),
            nprocs=WORLD_SIZE,
            join=True)
        results = dict(results)

    global_batch = torch.cat([
        torch.arange(BATCH, dtype=torch.float32)[:, None] + 10 * r
        for r in range(WORLD_SIZE)
    ])
    # Each process gets a slice of one global permutation of the batch.
    shuffled = torch.cat([results[r]['shuffled'] for r in range(WORLD_SIZE)])
    assert sorted(shuffled.flatten().tolist()) == \
        global_batch.flatten().tolist()
    for rank in range(WORLD_SIZE):
        local = global_batch[rank * BATCH:(rank + 1) * BATCH]
        assert torch.equal(results[rank]['restored'], local * 2)
    # Every process enqueued the keys of all processes, in rank order.
    assert torch.equal(results[0]['queue'], results[1]['queue'])
    assert results[0]['ptr'] == results[1]['ptr'] == WORLD_SIZE * BATCH
    expected = torch.cat(
        [torch.full((BATCH, 2), float(r)) for r in range(WORLD_SIZE)])
    assert torch.equal(results[0]['queue'][:WORLD_SIZE * BATCH], expected)
