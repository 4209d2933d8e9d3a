# Copyright (c) OpenMMLab. All rights reserved.
"""Split BatchNorm: shuffle BN's per-process statistics in one process."""
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn


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
