# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.dist import all_gather
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...utils import ConfigError

Features = Union[Tensor, Sequence[Tensor]]


def global_pool(feats: Features) -> Tensor:
    """Average-pool backbone features over time and space.

    Args:
        feats (Tensor or Sequence[Tensor]): Features of shape
            (N, C, T, H, W), or one such tensor per pathway (SlowFast).

    Returns:
        Tensor: Pooled features of shape (N, C) (pathways concatenated).
    """
    if isinstance(feats, Tensor):
        feats = (feats, )
    return torch.cat([f.flatten(2).mean(2) for f in feats], dim=1)


class Projector(nn.Module):
    """Pool, project and L2-normalise backbone features (MoCo v2 MLP).

    Args:
        in_channels (int): Width of the pooled backbone features.
        feat_dim (int): Width of the embedding.
    """

    def __init__(self, in_channels: int, feat_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, in_channels), nn.ReLU(inplace=True),
            nn.Linear(in_channels, feat_dim))

    def forward(self, feats: Features) -> Tensor:
        """Map backbone features to unit-norm embeddings of shape (N, D)."""
        embeddings = self.mlp(global_pool(feats))
        # Normalised in float32 also under --amp.
        with torch.autocast(embeddings.device.type, enabled=False):
            return F.normalize(embeddings.float(), dim=1)


@MODELS.register_module()
class MoCoHead(BaseModule):
    """Momentum-contrast head: projector, queue of negatives and InfoNCE.

    The symmetric loss of FAME (`CVPR 2022
    <https://arxiv.org/abs/2109.15130>`_) on top of MoCo v2 (`arXiv
    <https://arxiv.org/abs/2003.04297>`_): each of the two views is a query
    whose positive is the key of the other view; both directions are scored
    against the queue as it was before the step, then both key batches are
    enqueued. (The released code enqueues the first direction's keys before
    scoring the second, so that a query meets its own view's key among the
    negatives; we avoid that.)

    The queue and its pointer are buffers, so they are saved in checkpoints
    and restored on resume. The queue starts as the same random unit
    vectors on every process, whatever the seeds.

    Args:
        in_channels (int): Width of the pooled backbone features (512 for
            R(2+1)D-18, 2048 for ResNet3d-50, 2304 for SlowFast-R50).
        feat_dim (int): Width of the embedding. Defaults to 128.
        queue_len (int): Number of negative keys. Defaults to 65536 (the
            Kinetics-400 setting; 2048 for UCF101).
        temperature (float): Softmax temperature. Defaults to 0.1.
        loss_cls (dict): Config of the loss over the logits, target 0.
            Defaults to ``dict(type='CrossEntropyLoss')``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 feat_dim: int = 128,
                 queue_len: int = 65536,
                 temperature: float = 0.1,
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 init_cfg: Union[dict, None] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if queue_len < 1:
            raise ConfigError('queue_len', f'must be >= 1, got {queue_len}')
        if temperature <= 0:
            raise ConfigError('temperature', f'must be > 0, got {temperature}')
        self.in_channels = in_channels
        self.temperature = temperature
        self.projector = Projector(in_channels, feat_dim)
        self.loss_cls = MODELS.build(loss_cls)
        # The same on every process whatever its seed (--diff-rank-seed):
        # the model wrapper broadcasts no buffers (broadcast_buffers=False).
        noise = torch.randn(
            queue_len, feat_dim, generator=torch.Generator().manual_seed(0))
        self.register_buffer('queue', F.normalize(noise, dim=1))
        self.register_buffer('queue_ptr', torch.zeros((), dtype=torch.long))

    def contrast(self, query: Tensor, key: Tensor,
                 queue: Tensor) -> Tuple[Tensor, Tensor]:
        """InfoNCE of one direction, as in MoCo's ``builder.py``.

        Args:
            query (Tensor): Unit-norm queries of shape (N, D).
            key (Tensor): Their positive keys, unit-norm, (N, D).
            queue (Tensor): Negative keys of shape (K, D).

        Returns:
            tuple[Tensor, Tensor]: The loss (mean over the queries) and how
            often the positive wins (top-1 accuracy in [0, 1]).
        """
        # float32 also under --amp: a half-precision product loses the
        # small differences between similarities that the temperature
        # amplifies tenfold.
        with torch.autocast(query.device.type, enabled=False):
            query, key = query.float(), key.float()
            l_pos = (query * key).sum(1, keepdim=True)  # Nx1
            l_neg = query @ queue.t()  # NxK
            logits = torch.cat([l_pos, l_neg], dim=1)  # Nx(1+K)
            logits = logits / self.temperature
        # The positive is class 0 of every query.
        labels = torch.zeros(
            logits.shape[0], dtype=torch.long, device=logits.device)
        top1 = (logits.detach().argmax(1) == 0).float().mean()
        return self.loss_cls(logits, labels), top1

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Replace the oldest entries with the keys of all processes.

        Keys that are not finite (a step whose loss is not finite) would
        poison every later step: they leave the queue and its pointer as
        they are. All processes see the same keys, so they agree.
        """
        keys = torch.cat(all_gather(keys.float()))
        queue_len = self.queue.shape[0]
        if keys.shape[0] > queue_len:
            raise ValueError(f'model.head.queue_len={queue_len} is smaller '
                             f'than the {keys.shape[0]} keys enqueued per '
                             'step (2 views x batch size x processes)')
        if not torch.isfinite(keys).all():
            return
        index = (self.queue_ptr +
                 torch.arange(keys.shape[0], device=keys.device)) % queue_len
        self.queue[index] = keys
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % queue_len)
