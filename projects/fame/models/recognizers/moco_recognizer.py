# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from mmengine.model import BaseModel, ExponentialMovingAverage
from torch import Tensor, nn

from ...utils import ConfigError, config_scope
from ..heads.moco_head import global_pool
from ..utils import (batch_shuffle_ddp, batch_unshuffle_ddp,
                     has_split_batch_norm)


class _WithGradients(torch.autograd.Function):
    """A loss's value whose gradients have been computed already."""

    @staticmethod
    def forward(ctx, value: Tensor, grads: List[Optional[Tensor]], *params:
                Tensor) -> Tensor:
        ctx.grads = grads
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tuple[Optional[Tensor], ...]:
        # d(outer loss)/d(param) = d(outer loss)/d(value) * d(value)/d(param)
        grads = [None if g is None else g * grad_output for g in ctx.grads]
        ctx.grads = None
        return (None, None, *grads)


def early_backward(loss: Tensor, params: Iterable[Tensor]) -> Tensor:
    """Backpropagate one term of the loss now, and free its graph.

    The gradients of ``loss`` are computed at once (``torch.autograd.grad``;
    ``.grad`` is untouched) and kept. The returned tensor has the value of
    ``loss`` and hands them to ``params`` when the optimizer wrapper
    backpropagates the total, times the gradient that reaches it: the loss
    scale, gradient accumulation and DDP's all-reduce apply to this term as
    to the others, and only one term's activations are alive at a time.
    Exact up to rounding (under bfloat16 autocast the terms' gradients are
    added in float32). Not for float16 autocast (no loss scale here: small
    gradients would underflow) nor reentrant checkpointing (``with_cp=True``
    refuses ``torch.autograd.grad``).

    Args:
        loss (Tensor): A scalar term of the step's loss.
        params (Iterable[Tensor]): The parameters to differentiate for.

    Returns:
        Tensor: A scalar with the value of ``loss``.
    """
    params = [p for p in params if p.requires_grad]
    # Outside MMEngine's autocast region, as the optimizer wrapper's
    # backward: each op's backward runs in the precision of its forward.
    with torch.autocast(loss.device.type, enabled=False):
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    return _WithGradients.apply(loss.detach(), list(grads), *params)


def pooled_width(backbone: nn.Module) -> Optional[int]:
    """Width of the pooled features of an MMAction2 3D backbone, if known.

    ``ResNet3d`` and its subclasses (R(2+1)D, I3D) state it as
    ``feat_dim``; SlowFast concatenates both pathways.
    """
    if hasattr(backbone, 'feat_dim'):
        return int(backbone.feat_dim)
    pathways = [getattr(backbone, p, None) for p in ('slow_path', 'fast_path')]
    if all(hasattr(p, 'feat_dim') for p in pathways):
        return sum(int(p.feat_dim) for p in pathways)
    return None


@MODELS.register_module()
class MoCoRecognizer(BaseModel):
    """Self-supervised video recognizer trained by momentum contrast.

    MoCo v2 (`arXiv <https://arxiv.org/abs/2003.04297>`_) for video, with
    FAME (`CVPR 2022 <https://arxiv.org/abs/2109.15130>`_) in its data
    preprocessor. The query encoder is ``backbone`` followed by the head's
    projector; the key encoder is their exponential moving average
    (MMEngine's ``ExponentialMovingAverage``, as in mmpretrain's MoCo),
    updated once per step before the keys are computed. The keys'
    BatchNorm is shuffled across processes; in one process, a backbone with
    :class:`SplitBatchNorm3d` layers gives the same remedy (the keys' batch
    is then shuffled within the process).

    Any MMAction2 3D backbone works unchanged (``ResNet2Plus1d``,
    ``ResNet3d``, ``ResNet3dSlowFast``); set the head's ``in_channels`` to its
    pooled output width.

    Args:
        backbone (dict): Backbone config.
        head (dict): :class:`MoCoHead` config.
        momentum (float): Key encoder momentum ``m`` of the paper:
            ``key = m * key + (1 - m) * query``. Defaults to 0.999.
        per_direction_backward (bool): Backpropagate the first direction of
            the symmetric loss as soon as it is computed
            (:func:`early_backward`), before the second view's query pass.
            The same gradients (up to rounding under bfloat16 autocast,
            where the two directions' gradients are added in float32, not
            bfloat16), with half the activation memory of a step
            that keeps both query passes' graphs until the optimizer
            wrapper's backward pass, and faster on the CPU (see
            ``docs/benchmark.md``). Off under float16 autocast and with a
            checkpointed backbone (``with_cp=True``). Defaults to True.
        data_preprocessor (dict, optional): Data preprocessor config.
            Defaults to ``dict(type='ContrastiveDataPreprocessor')``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 momentum: float = 0.999,
                 per_direction_backward: bool = True,
                 data_preprocessor: Optional[dict] = dict(
                     type='ContrastiveDataPreprocessor'),
                 init_cfg: Optional[dict] = None) -> None:
        # Invalid values are reported under their config keys, e.g.
        # ``model.data_preprocessor.fame.beta``.
        with config_scope('model'):
            with config_scope('data_preprocessor'):
                super().__init__(
                    data_preprocessor=data_preprocessor, init_cfg=init_cfg)
            if not 0 < momentum < 1:
                raise ConfigError('momentum',
                                  f'must be in (0, 1), got {momentum}')
            self.per_direction_backward = per_direction_backward
            self.backbone = MODELS.build(backbone)
            # MMAction2's blocks checkpoint with torch's reentrant
            # ``checkpoint``, which ``torch.autograd.grad`` cannot go through.
            self._checkpointed = any(
                getattr(m, 'with_cp', False) for m in self.backbone.modules())
            with config_scope('head'):
                self.head = MODELS.build(head)
            width = pooled_width(self.backbone)
            if width is not None:
                self._check_width(width)
        # Otherwise checked once, at the first forward pass.
        self._width_unknown = width is None
        # MMEngine's EMA weighs the source by its ``momentum``: 1 - m. Its
        # first update copies the query encoder, so the key encoder starts
        # from the query's initialised weights; the buffers (BN statistics)
        # are copied from the query encoder at every update.
        self.key_encoder = ExponentialMovingAverage(
            self._query_encoder(), momentum=1 - momentum)
        self._split_bn = has_split_batch_norm(self.backbone)

    def _query_encoder(self) -> nn.Sequential:
        """Backbone and projector, sharing this model's parameters."""
        return nn.Sequential(self.backbone, self.head.projector)

    def _check_width(self, width: int) -> None:
        """Refuse a projector whose input is not the backbone's width."""
        if width != self.head.in_channels:
            raise ConfigError(
                'head.in_channels',
                f'is {self.head.in_channels}, but the backbone gives '
                f'{width}-d pooled features: set it to {width}')

    def _embed(self, encoder: nn.Sequential, clips: Tensor) -> Tensor:
        """Embeddings (N, D) of clips by a (backbone, projector) encoder."""
        backbone, projector = encoder
        feats = backbone(clips)
        if self._width_unknown:
            pathways = (feats, ) if isinstance(feats, Tensor) else feats
            with config_scope('model'):  # channels, once pooled
                self._check_width(sum(f.shape[1] for f in pathways))
            self._width_unknown = False
        return projector(feats)

    def encode_query(self, clips: Tensor) -> Tensor:
        """Unit-norm query embeddings (N, D) of (N, C, T, H, W) clips."""
        return self._embed(self._query_encoder(), clips)

    @torch.no_grad()
    def encode_key(self, clips: Tensor) -> Tensor:
        """Unit-norm key embeddings (N, D), with shuffle BN, no gradient."""
        clips, unshuffle = batch_shuffle_ddp(clips)
        if unshuffle is None and self._split_bn:
            # One process: split BN's groups of keys hold other videos than
            # the queries' groups.
            order = torch.randperm(clips.shape[0], device=clips.device)
            keys = self._embed(self.key_encoder.module, clips[order])
            return keys[torch.argsort(order)]
        keys = self._embed(self.key_encoder.module, clips)
        return batch_unshuffle_ddp(keys, unshuffle)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Pooled backbone features, averaged over the clips of a video.

        Args:
            inputs (Tensor): Clips of shape (N, C, T, H, W) or
                (N, num_clips, C, T, H, W).

        Returns:
            Tensor: Features of shape (N, C_backbone).
        """
        num_videos = inputs.shape[0]
        feats = global_pool(self.backbone(inputs.flatten(0, -5)))
        return feats.view(num_videos, -1, feats.shape[-1]).mean(1)

    def loss(self, inputs: Sequence[Tensor],
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Symmetric contrastive loss of two views.

        Each view is a query whose positive is the key of the other view;
        both directions are scored against the queue as it was before the
        step, then both key batches are enqueued.

        Args:
            inputs (Sequence[Tensor]): View 1 (FAME-merged) and view 2, each
                of shape (N, C, T, H, W).
            data_samples (List[ActionDataSample]): Unused.

        Returns:
            dict[str, Tensor]: Loss and contrastive top-1 accuracy, and
            with FAME's shot-cut guard on (``max_cut_ratio``), the number
            of clips of view 1 it left unmerged, and with its camera
            compensation on, the number whose camera motion it
            compensated.
        """
        view1, view2 = inputs  # NxCxTxHxW each; view 1 FAME-merged
        # Momentum update of the key encoder, then the keys (no gradient,
        # shuffle BN).
        self.key_encoder.update_parameters(self._query_encoder())
        key1, key2 = self.encode_key(view1), self.encode_key(view2)  # NxD
        queue = self.head.queue.clone()  # KxD, enqueued in place below
        loss1, top1_1 = self.head.contrast(
            self.encode_query(view1), key2, queue)
        if self._backward_per_direction(view1):
            # Backpropagate this direction now and free view 1's graph
            # before view 2's query pass: one query pass's activations are
            # alive at a time, as in a supervised step. The optimizer
            # wrapper's backward pass later hands these gradients on.
            loss1 = early_backward(loss1, self.parameters())
        loss2, top1_2 = self.head.contrast(
            self.encode_query(view2), key1, queue)
        self.head.enqueue(torch.cat([key2, key1]))  # dequeue and enqueue
        log = dict(
            loss_contrast=(loss1 + loss2) / 2, top1_acc=(top1_1 + top1_2) / 2)
        fame = getattr(self.data_preprocessor, 'fame', None)
        if getattr(fame, 'num_cuts_unmerged', None) is not None:
            log['fame_cuts_unmerged'] = fame.num_cuts_unmerged
        if getattr(fame, 'num_camera_compensated', None) is not None:
            log['fame_camera_compensated'] = fame.num_camera_compensated
        return log

    def _backward_per_direction(self, clips: Tensor) -> bool:
        """Whether to backpropagate the first direction on its own now.

        Only when a backward pass follows (training, gradients on); not
        with a checkpointed backbone (``with_cp=True``), and not under
        float16 autocast: the early backward pass does not know the AMP loss
        scale, and small float16 gradients would underflow.
        """
        if not (self.per_direction_backward and self.training
                and torch.is_grad_enabled() and not self._checkpointed):
            return False
        device = clips.device.type
        return not (torch.amp.is_autocast_available(device)
                    and torch.is_autocast_enabled(device)
                    and torch.get_autocast_dtype(device) == torch.float16)

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Put pooled backbone features in ``data_sample.backbone_feat``."""
        for sample, feat in zip(data_samples, self.extract_feat(inputs)):
            sample.set_field(feat, 'backbone_feat')
        return data_samples

    def forward(
            self,
            inputs: Union[Tensor, List[Tensor]],
            data_samples: Optional[SampleList] = None,
            mode: str = 'tensor'
    ) -> Union[Dict[str, Tensor], Tensor, SampleList]:
        """Dispatch to ``loss``, ``predict`` or feature extraction.

        Args:
            inputs (Tensor or List[Tensor]): Two views in ``'loss'`` mode,
                otherwise clips of shape (N, [num_clips,] C, T, H, W).
            data_samples (List[ActionDataSample], optional): Data samples.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'`` (pooled
                backbone features). Defaults to ``'tensor'``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'Invalid mode "{mode}"; only "loss", "predict" '
                           'and "tensor" are supported')
