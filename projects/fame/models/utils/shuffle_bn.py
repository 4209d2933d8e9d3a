# Copyright (c) OpenMMLab. All rights reserved.
"""Shuffle BN: compute the keys' BatchNorm statistics on a random mix of
samples from all processes, so that a query and its positive key never share
BN statistics (MoCo, https://arxiv.org/abs/1911.05722, Sec. 3.3).

In a single process both functions are identities: BN statistics do not
depend on the order of a batch.
"""
from typing import Optional, Tuple

import torch
from mmengine.dist import all_gather, broadcast, get_rank, get_world_size
from torch import Tensor


def batch_shuffle_ddp(x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """Give each process a random slice of the global batch.

    Args:
        x (Tensor): The local batch, same size on every process.

    Returns:
        Tuple[Tensor, Tensor]: The shuffled local batch and the global
        permutation that undoes the shuffle (None in one process).
    """
    world_size = get_world_size()
    if world_size == 1:
        return x, None
    gathered = torch.cat(all_gather(x))  # (world_size * N) x ...
    shuffle = torch.randperm(gathered.shape[0], device=x.device)
    broadcast(shuffle, src=0)
    local = shuffle.view(world_size, -1)[get_rank()]
    return gathered[local], torch.argsort(shuffle)


def batch_unshuffle_ddp(x: Tensor, unshuffle: Optional[Tensor]) -> Tensor:
    """Undo :func:`batch_shuffle_ddp` on the outputs of the shuffled batch.

    Args:
        x (Tensor): Outputs of the shuffled local batch.
        unshuffle (Tensor, optional): Second output of
            :func:`batch_shuffle_ddp`.

    Returns:
        Tensor: Outputs in the original order of the local batch.
    """
    if unshuffle is None:
        return x
    world_size = get_world_size()
    gathered = torch.cat(all_gather(x))
    return gathered[unshuffle.view(world_size, -1)[get_rank()]]
