# Copyright (c) OpenMMLab. All rights reserved.
"""Shuffle BN by all_to_all gives what the reference all-gather gives, on
2 and 4 CPU processes (gloo, strict collectives), for the traffic of one
batch per process."""
import copy
from typing import Optional, Tuple

import pytest
import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, broadcast, get_rank, get_world_size
from torch import Tensor, nn

from tests.strict_collectives import clear_records, records, run_in_processes

BATCH = 4  # videos per process
CLIP = (3, 2, 8, 8)
FEAT_DIM = 8


def reference_shuffle(x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """Shuffle BN as in the reference MoCo: gather the global batch."""
    world_size = get_world_size()
    gathered = torch.cat(all_gather(x))
    shuffle = torch.randperm(gathered.shape[0], device=x.device)
    broadcast(shuffle, src=0)
    local = shuffle.view(world_size, -1)[get_rank()]
    return gathered[local], torch.argsort(shuffle)


def reference_unshuffle(x: Tensor, unshuffle: Tensor) -> Tensor:
    gathered = torch.cat(all_gather(x))
    return gathered[unshuffle.view(get_world_size(), -1)[get_rank()]]


class KeyEncoder(nn.Module):
    """Convolution, BatchNorm, pooling, unit-norm projection."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)
        self.bn = nn.BatchNorm3d(4)
        self.fc = nn.Linear(4, FEAT_DIM)

    def forward(self, x: Tensor) -> Tensor:
        feats = self.bn(self.conv(x)).flatten(2).mean(2)
        return F.normalize(self.fc(feats), dim=1)


def _received(site: str) -> int:
    return sum(r.received_bytes for r in records() if r.site.startswith(site))


def _worker(rank: int, world_size: int) -> dict:
    from projects.fame.models.heads import MoCoHead
    from projects.fame.models.utils import (batch_shuffle_ddp,
                                            batch_unshuffle_ddp)
    torch.manual_seed(0)
    encoder = KeyEncoder().train()
    head = MoCoHead(in_channels=4, feat_dim=FEAT_DIM, queue_len=64)
    versions = dict(
        reference=(reference_shuffle, reference_unshuffle,
                   'tests/test_models/test_shuffle_bn.py'),
        all_to_all=(batch_shuffle_ddp, batch_unshuffle_ddp,
                    'projects/fame/models/utils/shuffle_bn.py'))
    views = [torch.randn(BATCH, *CLIP) + rank for _ in range(2)]
    out = dict(views=views)
    for name, (shuffle, unshuffle, site) in versions.items():
        torch.manual_seed(1)  # the same permutations for both versions
        model, queue = copy.deepcopy(encoder), copy.deepcopy(head)
        clear_records()
        shuffled, keys = [], []
        for view in views:  # two views, as in a step
            clips, plan = shuffle(view)
            shuffled.append(clips)
            keys.append(unshuffle(model(clips), plan))
        received = _received(site)
        queue.enqueue(torch.cat(keys))
        out[name] = dict(
            shuffled=shuffled,
            keys=keys,
            bn=(model.bn.running_mean, model.bn.running_var),
            queue=queue.queue,
            received=received)
    return out


@pytest.mark.parametrize('world_size', [2, 4])
def test_all_to_all_shuffle_bn_equals_all_gather(world_size):
    results = run_in_processes(_worker, world_size)
    clip_bytes = torch.zeros(CLIP).numel() * 4
    key_bytes = FEAT_DIM * 4
    perm_bytes = world_size * BATCH * 8  # int64, on ranks other than 0
    for rank, result in enumerate(results):
        ref, new = result['reference'], result['all_to_all']
        # The same slice of the global batch, in the same order: the same
        # BN statistics, keys and queue, bit for bit.
        for a, b in zip(ref['shuffled'], new['shuffled']):
            assert torch.equal(a, b)
        for a, b in zip(ref['keys'], new['keys']):
            assert torch.equal(a, b)
        for a, b in zip(ref['bn'], new['bn']):
            assert torch.equal(a, b)
        assert torch.equal(ref['queue'], new['queue'])
        assert torch.equal(results[0]['all_to_all']['queue'], new['queue'])
        # Bytes received per step (two views), own share included: the
        # global batch and its keys before, one batch and its keys now.
        perm = perm_bytes if rank else 0
        assert ref['received'] == 2 * (
            world_size * BATCH * (clip_bytes + key_bytes) + perm)
        assert new['received'] == 2 * (BATCH * (clip_bytes + key_bytes) + perm)
    # The processes' slices make up the global batch, each clip once.
    for view in range(2):
        shuffled = torch.cat(
            [r['all_to_all']['shuffled'][view] for r in results])
        clips = torch.cat([r['views'][view] for r in results])
        assert not torch.equal(shuffled, clips)
        order = shuffled.flatten(1).sum(1).argsort()
        assert torch.equal(shuffled[order],
                           clips[clips.flatten(1).sum(1).argsort()])
