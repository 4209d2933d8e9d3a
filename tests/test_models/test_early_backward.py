# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from projects.fame.models.recognizers.moco_recognizer import early_backward


def test_early_backward_hands_its_gradients_to_the_outer_backward():
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(3, generator=gen, requires_grad=True)
    bias = torch.randn(1, generator=gen, requires_grad=True)
    unused = torch.zeros(2, requires_grad=True)
    frozen = torch.ones(3)  # no gradient wanted
    x = torch.randn(4, 3, generator=gen)

    first = ((x * frozen) @ weight + bias).pow(2).mean()
    settled = early_backward(first, [weight, bias, unused, frozen])
    assert settled.item() == first.item()
    assert weight.grad is None and bias.grad is None  # kept aside
    second = (x @ weight).sin().sum()
    (2 * settled + 5 * second).backward()

    weight_ref = weight.detach().clone().requires_grad_()
    bias_ref = bias.detach().clone().requires_grad_()
    reference = 2 * (x @ weight_ref + bias_ref).pow(2).mean() + 5 * (
        x @ weight_ref).sin().sum()
    reference.backward()
    torch.testing.assert_close(weight.grad, weight_ref.grad)
    torch.testing.assert_close(bias.grad, bias_ref.grad)
    assert unused.grad is None


def test_early_backward_frees_the_graph():
    weight = torch.ones(2, requires_grad=True)
    first = (weight * 2).sum()
    early_backward(first, [weight])
    with pytest.raises(RuntimeError, match='second time'):
        first.backward()
