# Copyright (c) OpenMMLab. All rights reserved.
"""Shuffle BN: compute the keys' BatchNorm statistics on a random mix of
samples from all processes, so that a query and its positive key never share
BN statistics (MoCo, https://arxiv.org/abs/1911.05722, Sec. 3.3); and
:class:`SplitBatchNorm3d`, its remedy within one process.

The reference implementation all-gathers the global batch and keeps a
slice of it: each of W processes receives W batches of clips. Here each
process receives only the clips of its slice (one batch), in one
``all_to_all_single``: the permutation is drawn on rank 0 and broadcast,
as there, and every process derives from it what it sends to whom. The
shuffled batches, and so the keys and BN statistics, are the same as the
reference's.

In a single process both functions are identities: BN statistics do not
depend on the order of a batch.
"""
from typing import List, NamedTuple, Optional, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.dist import broadcast, get_comm_device, get_rank, get_world_size
from torch import Tensor, nn


class ShufflePlan(NamedTuple):
    """Who sends which rows to whom, for one shuffle and its undoing.

    Attributes:
        send_rows (Tensor): Local rows, grouped by destination rank.
        send_counts (List[int]): Rows sent to each rank.
        recv_order (Tensor): Positions in the shuffled batch of the rows
            received, grouped by source rank.
        recv_counts (List[int]): Rows received from each rank.
    """
    send_rows: Tensor
    send_counts: List[int]
    recv_order: Tensor
    recv_counts: List[int]


def _all_to_all_single(x: Tensor, out_rows: int, send_counts: List[int],
                       recv_counts: List[int]) -> Tensor:
    """``all_to_all_single`` of rows, on the backend's device.

    Args:
        x (Tensor): The rows to send, grouped by destination rank.
        out_rows (int): Number of rows received.
        send_counts (List[int]): Rows sent to each rank.
        recv_counts (List[int]): Rows received from each rank.

    Returns:
        Tensor: The rows received, grouped by source rank, on ``x``'s
        device.
    """
    # As mmengine.dist does: NCCL needs the tensors on its device, and
    # contiguous.
    device = get_comm_device()
    send = x.to(device).contiguous()
    received = send.new_empty((out_rows, *x.shape[1:]))
    torch_dist.all_to_all_single(received, send, recv_counts, send_counts)
    return received.to(x.device)


def batch_shuffle_ddp(x: Tensor) -> Tuple[Tensor, Optional[ShufflePlan]]:
    """Give each process a random slice of the global batch.

    Process ``r`` gets the rows ``perm[r * N:(r + 1) * N]`` of the global
    batch (the local batches concatenated in rank order), for one random
    permutation ``perm`` drawn on rank 0. The number of rows each pair of
    processes exchanges is read on the host from ``perm`` (one small copy
    from the device per call).

    Args:
        x (Tensor): The local batch of N rows, same size on every process.

    Returns:
        Tuple[Tensor, ShufflePlan]: The shuffled local batch and the plan
        that undoes the shuffle (None in one process).
    """
    world_size = get_world_size()
    if world_size == 1:
        return x, None
    rank, num = get_rank(), x.shape[0]
    perm = torch.randperm(world_size * num, device=x.device)
    broadcast(perm, src=0)
    slices = perm.cpu().view(world_size, num)  # the global rows per rank
    owners = slices // num
    # What this process sends: its rows wanted by each rank in turn, in the
    # order that rank wants them.
    mine = owners == rank
    send_rows = slices[mine] % num
    send_counts = mine.sum(1).tolist()
    # What it receives: its slice's rows, grouped by the rank holding them.
    recv_order = torch.argsort(owners[rank], stable=True)
    recv_counts = torch.bincount(owners[rank], minlength=world_size).tolist()
    plan = ShufflePlan(
        send_rows.to(x.device, non_blocking=True), send_counts,
        recv_order.to(x.device, non_blocking=True), recv_counts)
    received = _all_to_all_single(x[plan.send_rows], num, send_counts,
                                  recv_counts)
    shuffled = torch.empty_like(received)
    shuffled[plan.recv_order] = received
    return shuffled, plan


def batch_unshuffle_ddp(x: Tensor, unshuffle: Optional[ShufflePlan]) -> Tensor:
    """Undo :func:`batch_shuffle_ddp` on the outputs of the shuffled batch.

    Args:
        x (Tensor): Outputs of the shuffled local batch, one row per clip.
        unshuffle (ShufflePlan, optional): Second output of
            :func:`batch_shuffle_ddp`.

    Returns:
        Tensor: Outputs in the original order of the local batch.
    """
    if unshuffle is None:
        return x
    # The reverse exchange: every row goes back to the rank it came from.
    received = _all_to_all_single(x[unshuffle.recv_order], x.shape[0],
                                  unshuffle.recv_counts, unshuffle.send_counts)
    restored = torch.empty_like(received)
    restored[unshuffle.send_rows] = received
    return restored


@MODELS.register_module('SplitBN3d')
class SplitBatchNorm3d(nn.BatchNorm3d):
    """BatchNorm3d that normalises a training batch in groups.

    Shuffle BN (MoCo, Sec. 3.3) relies on each process normalising its own
    part of the batch; in a single process there is one part, and the keys
    share their BatchNorm statistics with the queries of the same videos.
    This layer normalises ``num_splits`` groups of a training batch
    separately, as if they were on ``num_splits`` processes (the
    ``SplitBatchNorm`` of MoCo's single-GPU demo). Sample ``i`` belongs to
    group ``i % num_splits``. :class:`MoCoRecognizer` shuffles the keys'
    batch in one process when its backbone holds this layer, so that a
    query's group and its key's group hold different videos.

    The running statistics are the mean of the groups' running statistics,
    so that an evaluation pass normalises as plain BatchNorm3d does. In
    evaluation, or with ``num_splits=1``, it is ``nn.BatchNorm3d``.

    Use it through a backbone's ``norm_cfg``, e.g.
    ``norm_cfg=dict(type='SplitBN3d', num_splits=4, requires_grad=True)``.

    Args:
        num_features (int): Number of channels C.
        num_splits (int): Groups of a training batch. Defaults to 4.
        **kwargs: Other arguments of ``nn.BatchNorm3d`` (``eps``,
            ``momentum``, ``affine``).
    """

    def __init__(self,
                 num_features: int,
                 num_splits: int = 4,
                 **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        if num_splits < 1:
            raise ValueError(f'num_splits must be >= 1, got {num_splits}')
        if self.momentum is None:
            raise ValueError('SplitBN3d needs a float momentum, got None')
        self.num_splits = num_splits

    def forward(self, x: Tensor) -> Tensor:
        """Normalise (N, C, T, H, W) features, by group in training."""
        groups = self.num_splits
        if not self.training or groups == 1:
            return super().forward(x)
        num, channels = x.shape[:2]
        if num % groups:
            raise ValueError(
                f'SplitBN3d: the batch of {num} samples does not split into '
                f'num_splits={groups} groups; use a batch size that is a '
                'multiple of it')
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        # Sample i, group i % groups, becomes channel block i % groups of
        # row i // groups: each block is normalised over its own samples.
        running_mean = self.running_mean.repeat(groups)
        running_var = self.running_var.repeat(groups)
        weight = bias = None
        if self.affine:
            weight, bias = self.weight.repeat(groups), self.bias.repeat(groups)
        out = F.batch_norm(
            x.reshape(num // groups, channels * groups, *x.shape[2:]),
            running_mean, running_var, weight, bias, True,
            self.momentum, self.eps)
        with torch.no_grad():
            self.running_mean.copy_(running_mean.view(groups, -1).mean(0))
            self.running_var.copy_(running_var.view(groups, -1).mean(0))
        return out.view_as(x)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, num_splits={self.num_splits}'


def has_split_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` normalises training batches in groups."""
    return any(
        isinstance(m, SplitBatchNorm3d) and m.num_splits > 1
        for m in module.modules())
