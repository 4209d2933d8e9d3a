# Copyright (c) OpenMMLab. All rights reserved.
from typing import Callable, Dict, Iterable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.dist import all_gather
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..utils import ConfigError, autocast_off

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
        with autocast_off(embeddings.device):
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

    def logits(self, query: Tensor, key: Tensor, queue: Tensor) -> Tensor:
        """Positive and negative logits of unit-norm queries and keys.

        Args:
            query (Tensor): Queries of shape (N, D).
            key (Tensor): Positive keys of shape (N, D).
            queue (Tensor): Negative keys of shape (K, D).

        Returns:
            Tensor: Logits of shape (N, 1 + K), the positive in column 0.
        """
        # float32 also under --amp: a half-precision product loses the
        # small differences between similarities that the temperature
        # amplifies tenfold.
        with autocast_off(query.device):
            query, key = query.float(), key.float()
            pos = (query * key).sum(1, keepdim=True)  # Nx1
            neg = query @ queue.t()  # NxK
            return torch.cat([pos, neg], dim=1) / self.temperature

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Replace the oldest entries with the keys of all processes."""
        keys = torch.cat(all_gather(keys.float()))
        queue_len = self.queue.shape[0]
        if keys.shape[0] > queue_len:
            raise ValueError(f'MoCoHead: {keys.shape[0]} keys per step do '
                             f'not fit in a queue of {queue_len} '
                             '(queue_len)')
        index = (self.queue_ptr +
                 torch.arange(keys.shape[0], device=keys.device)) % queue_len
        # Keys of a step whose loss is not finite would poison every later
        # step: leave the queue and pointer as they are (decided on the
        # device, without a host sync; all processes see the same keys).
        finite = torch.isfinite(keys).all()
        self.queue[index] = torch.where(finite, keys, self.queue[index])
        self.queue_ptr.copy_(
            (self.queue_ptr + finite * keys.shape[0]) % queue_len)

    def loss(
        self,
        queries: Iterable[Tensor],
        keys: Sequence[Tensor],
        settle_first: Optional[Callable[[Tensor], Tensor]] = None
    ) -> Dict[str, Tensor]:
        """Symmetric InfoNCE of two views, then enqueue both key batches.

        Args:
            queries (Iterable[Tensor]): Queries of view 1 and view 2, each of
                shape (N, D). May be a generator: the query of view 2 is
                drawn after the loss of view 1's query is computed.
            keys (Sequence[Tensor]): Keys of view 1 and view 2, each (N, D).
            settle_first (Callable, optional): Applied to the loss of view
                1's query (view 1 against the key of view 2) before the
                query of view 2 is drawn; it returns the loss term to use
                (the recognizer backpropagates it there with
                :func:`early_backward`). Defaults to None.

        Returns:
            dict[str, Tensor]: ``loss_contrast`` (mean of both directions)
            and ``top1_acc`` (how often the positive wins, in [0, 1]).
        """
        key1, key2 = keys
        # A copy: the backward pass needs the queue as it was, after the
        # in-place enqueue below.
        queue = self.queue.clone()
        losses, top1 = [], []
        for query, key in zip(queries, (key2, key1)):
            logits = self.logits(query, key, queue)  # Nx(1+K)
            labels = torch.zeros(
                logits.shape[0], dtype=torch.long, device=logits.device)
            loss = self.loss_cls(logits, labels)
            if settle_first is not None and not losses:
                loss = settle_first(loss)
            losses.append(loss)
            top1.append((logits.detach().argmax(1) == 0).float().mean())
        self.enqueue(torch.cat([key2, key1]))
        # Both directions have the same batch size: these are the means over
        # the 2N queries.
        return dict(
            loss_contrast=(losses[0] + losses[1]) / 2,
            top1_acc=(top1[0] + top1[1]) / 2)
