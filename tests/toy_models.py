# Copyright (c) OpenMMLab. All rights reserved.
"""Small models for tests.

A linear regression model and data set, the smallest Runner workload, and
narrowed configs of the shipped 3D backbones.
"""
import torch
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset


class ToyModel(BaseModel):
    """Fits ``labels`` from ``inputs`` with one linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        outputs = self.linear(torch.stack(inputs)).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((outputs - torch.stack(labels))**2).mean())
        if mode == 'predict':
            return list(outputs)
        return outputs


class ToyDataset(Dataset):
    """Sample ``i`` is the input ``(i, i)`` with the label ``i``.

    Args:
        length (int): The number of samples.
    """

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        return dict(
            inputs=torch.full((2, ), float(index)),
            labels=torch.tensor(float(index)))


def narrow_backbone(backbone: dict, base_channels: int) -> int:
    """Shrink a backbone config in place; return its pooled width.

    Args:
        backbone (dict): A ``ResNet2Plus1d``, ``ResNet3d`` or
            ``ResNet3dSlowFast`` config.
        base_channels (int): The new base width; a SlowFast gets 16 slow
            and 2 fast channels whatever it is.

    Returns:
        int: The channels of the backbone's pooled features.
    """
    if backbone['type'] == 'ResNet3dSlowFast':
        backbone['slow_pathway']['base_channels'] = 16
        backbone['fast_pathway']['base_channels'] = 2
        return 16 * 32 + 2 * 32
    backbone['base_channels'] = base_channels
    # Each stage doubles the width; ResNet-18/34's basic blocks keep it,
    # ResNet-50's bottlenecks expand it 4 times.
    expansion = 1 if backbone.get('depth', 50) < 50 else 4
    return base_channels * expansion * 2**(backbone.get('num_stages', 4) - 1)
