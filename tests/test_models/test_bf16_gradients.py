# Copyright (c) OpenMMLab. All rights reserved.
"""Under bfloat16 autocast the query encoder's gradients are computed in
float32 where its forward pass was: the per-direction backward pass runs
outside the autocast region that MMEngine opens around the forward."""
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import ExponentialMovingAverage
from mmengine.registry import init_default_scope
from torch import Tensor, nn

import projects.fame  # noqa: F401

CHANNELS, QUEUE_LEN = 16, 4096


@MODELS.register_module(force=True)
class ElementwiseBackbone(nn.Module):
    """A backbone of products and sums only, which autocast leaves in
    float32, so that only the loss's backward pass could lose precision."""

    feat_dim = CHANNELS

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(CHANNELS, 3))

    def forward(self, x: Tensor) -> Tensor:
        # (N, 3, T, H, W) -> (N, C, T, H, W)
        return (x[:, None] * self.weight[None, :, :, None, None, None]).sum(2)


def build_model(per_direction_backward: bool) -> nn.Module:
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MoCoRecognizer',
            backbone=dict(type='ElementwiseBackbone'),
            head=dict(
                type='MoCoHead',
                in_channels=CHANNELS,
                feat_dim=CHANNELS,
                queue_len=QUEUE_LEN),
            per_direction_backward=per_direction_backward))
    # Without the projector's linear layers, which autocast runs in
    # bfloat16 forward and backward alike.
    model.head.projector.mlp = nn.Identity()
    # MMEngine's EMA holds the encoder's parameters by name: build it anew.
    model.key_encoder = ExponentialMovingAverage(
        model._query_encoder(), momentum=model.key_encoder.momentum)
    return model.train()


def backbone_gradient(model: nn.Module, views, autocast: bool) -> Tensor:
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        loss = model.loss(views, None)['loss_contrast']
    loss.backward()  # outside the region, as MMEngine's optimizer wrapper
    return model.backbone.weight.grad


def embed(weight: Tensor, clips: Tensor) -> Tensor:
    """The query encoder (backbone, pooling, projector) in float64."""
    feats = (clips.double()[:, None] *
             weight[None, :, :, None, None, None]).sum(2)
    return F.normalize(feats.flatten(2).mean(2), dim=1)


def float64_gradient(model: nn.Module, views) -> Tensor:
    """The gradient of the symmetric loss of the first step, in float64."""
    weight = model.backbone.weight.detach().double().requires_grad_()
    queue = model.head.queue.double()
    keys = [embed(weight, view).detach() for view in views]
    loss = 0
    for view, key in zip(views, keys[::-1]):
        query = embed(weight, view)
        logits = torch.cat([(query * key).sum(1, keepdim=True),
                            query @ queue.t()], 1) / model.head.temperature
        labels = torch.zeros(len(view), dtype=torch.long)
        loss = loss + F.cross_entropy(logits, labels) / 2
    loss.backward()
    return weight.grad


@pytest.mark.parametrize('per_direction_backward', [True, False])
def test_query_gradient_precision_under_bf16_autocast(per_direction_backward):
    model = build_model(per_direction_backward)
    gen = torch.Generator().manual_seed(1)
    views = [torch.randn(4, 3, 2, 4, 4, generator=gen) for _ in range(2)]
    expected = float64_gradient(model, views)
    grad = backbone_gradient(model, views, autocast=True)
    error = ((grad.double() - expected).norm() / expected.norm()).item()
    # float32 throughout: about 1e-7 (with the backward pass of the logits
    # over the queue in bfloat16: about 1e-4).
    assert error < 2e-6, error
