# Copyright (c) OpenMMLab. All rights reserved.
from typing import Iterable, List, Optional, Tuple

import torch
from torch import Tensor

from .precision import autocast_off


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
    """Backpropagate a term of a loss now, and free its graph.

    The gradients of ``loss`` with respect to ``params`` are computed at
    once (``torch.autograd.grad``: the parameters' ``.grad`` is not
    touched) and kept. The returned tensor has the value of ``loss`` and
    hands those gradients to the parameters when the sum it becomes part of
    is backpropagated, multiplied by the gradient that reaches it. The
    outer loss is therefore backpropagated as usual, once, by the optimizer
    wrapper: its loss scale (AMP), gradient accumulation factor and
    distributed gradient all-reduce apply to this term as to the others,
    and a step skipped before its backward pass discards the kept
    gradients.

    The point is memory: the activations of ``loss``'s graph are freed
    before the rest of the loss is computed. The gradient is exact up to
    rounding: under bfloat16 autocast each op's backward runs in the
    precision of its forward, as in the optimizer wrapper's backward pass,
    but this term's gradients are added to the others' in the parameters'
    precision (float32), where one backward pass may add them in bfloat16
    (autocast casts a weight once for all its uses). It is computed
    without the optimizer wrapper's loss scale: do not use it
    under float16 autocast, where small activation gradients would
    underflow. Nor through torch's reentrant ``checkpoint`` (MMAction2's
    ``with_cp=True``), which refuses ``torch.autograd.grad``.

    Args:
        loss (Tensor): A scalar term of the step's loss.
        params (Iterable[Tensor]): The parameters to differentiate for.

    Returns:
        Tensor: A scalar with the value of ``loss``.
    """
    params = [p for p in params if p.requires_grad]
    # Called inside the forward, i.e. inside MMEngine's autocast region,
    # which would also apply to this backward pass: the backward of float32
    # ops (the logits over the queue) would run in bfloat16. Outside it,
    # each op's backward runs in the precision of its forward, as in the
    # optimizer wrapper's backward pass.
    with autocast_off(loss.device):
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    return _WithGradients.apply(loss.detach(), list(grads), *params)
