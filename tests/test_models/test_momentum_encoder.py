# Copyright (c) OpenMMLab. All rights reserved.
"""MomentumEncoder: MMEngine's EMA, bit for bit, without a host read."""
import copy
import io

import pytest
import torch
from mmengine.model import ExponentialMovingAverage
from torch import nn

from projects.fame.models import MomentumEncoder


def source_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv3d(3, 4, 3), nn.BatchNorm3d(4), nn.ReLU(),
        nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2)))


@torch.no_grad()
def train_step(model: nn.Module, seed: int) -> None:
    """Move the weights and the BN statistics as a training step would."""
    gen = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        param.add_(torch.randn(param.shape, generator=gen))
    model.train()
    dtype = model[0].weight.dtype
    model[0:2](torch.randn(2, 3, 4, 5, 5, generator=gen).to(dtype))
    model[3](torch.randn(3, 4, generator=gen).to(dtype))


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for name, value in state_a.items():
        assert value.dtype == state_b[name].dtype, name
        assert torch.equal(value, state_b[name]), name


@pytest.mark.parametrize('update_buffers', [False, True])
@pytest.mark.parametrize('interval', [1, 3])
def test_same_numbers_as_mmengine_ema(update_buffers, interval):
    model = source_model()
    kwargs = dict(
        momentum=0.1, interval=interval, update_buffers=update_buffers)
    reference = ExponentialMovingAverage(model, **kwargs)
    encoder = MomentumEncoder(model, **kwargs)
    for step in range(7):
        train_step(model, step)
        reference.update_parameters(model)
        encoder.update_parameters(model)
        # Parameters and buffers, the step count included.
        assert_same_state(encoder, reference)
        assert encoder.host_steps == step + 1
    # The averaged model did move, and is not the source.
    assert not torch.equal(encoder.module[0].weight, model[0].weight)
    assert not encoder.module[0].weight.requires_grad


def test_update_records_no_gradient():
    model = source_model()
    encoder = MomentumEncoder(model, momentum=0.5)
    for _ in range(2):
        encoder.update_parameters(model)
    assert all(p.grad_fn is None and not p.requires_grad
               for p in encoder.parameters())


def test_no_host_read_of_the_step_count():
    """On meta tensors (no data to read) MMEngine's EMA fails at its
    ``if self.steps == 0``; the momentum encoder runs."""
    model = source_model().to('meta')
    reference = ExponentialMovingAverage(model).to('meta')
    with pytest.raises(RuntimeError):
        reference.update_parameters(model)
    encoder = MomentumEncoder(model).to('meta')
    for _ in range(3):
        encoder.update_parameters(model)
    assert encoder.host_steps == 3
    assert encoder.steps.device.type == 'meta'


@pytest.mark.parametrize('steps_before', [1, 4])
def test_state_dict_round_trip_continues_exactly(steps_before):
    model = source_model()
    reference = ExponentialMovingAverage(model, momentum=0.2)
    encoder = MomentumEncoder(model, momentum=0.2)
    # The same state dict keys as MMEngine's EMA: checkpoints of either
    # load into the other.
    assert list(encoder.state_dict()) == list(reference.state_dict())
    for step in range(steps_before):
        train_step(model, step)
        reference.update_parameters(model)
        encoder.update_parameters(model)
    buffer = io.BytesIO()
    torch.save(encoder.state_dict(), buffer)
    buffer.seek(0)
    fresh = MomentumEncoder(source_model(seed=1), momentum=0.2)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert fresh.host_steps == steps_before
    assert_same_state(fresh, reference)
    # The first update after the load averages (a copy would make the
    # averaged weights equal to the source's).
    train_step(model, steps_before)
    reference.update_parameters(model)
    fresh.update_parameters(model)
    assert not torch.equal(fresh.module[0].weight, model[0].weight)
    for step in range(steps_before + 1, steps_before + 4):
        assert_same_state(fresh, reference)
        train_step(model, step)
        reference.update_parameters(model)
        fresh.update_parameters(model)
    assert_same_state(fresh, reference)
    # A checkpoint of MMEngine's EMA resumes the momentum encoder too.
    other = MomentumEncoder(source_model(seed=2), momentum=0.2)
    other.load_state_dict(reference.state_dict())
    assert other.host_steps == int(reference.steps)


def test_moved_or_cast_encoder_keeps_averaging_its_own_tensors():
    """``.to()`` replaces the buffers (and ``.double()`` the parameters'
    data): the averaged tensors are looked up again."""
    model = source_model()
    reference = ExponentialMovingAverage(model, momentum=0.3)
    encoder = MomentumEncoder(model, momentum=0.3)
    for step in range(2):
        train_step(model, step)
        reference.update_parameters(model)
        encoder.update_parameters(model)
    model.double()
    reference.double()
    encoder.double()
    for step in range(2, 5):
        train_step(model, step)
        reference.update_parameters(model)
        encoder.update_parameters(model)
        assert_same_state(encoder, reference)
    assert encoder.module[1].running_mean.dtype == torch.float64
    # A deep copy (as tests and EMA hooks make) averages its own tensors.
    twin = copy.deepcopy(encoder)
    train_step(model, 5)
    twin.update_parameters(model)
    reference.update_parameters(model)
    assert_same_state(twin, reference)
    assert not torch.equal(twin.module[0].weight, encoder.module[0].weight)


def test_mismatched_source_is_refused():
    encoder = MomentumEncoder(source_model())
    with pytest.raises(ValueError, match='tensors to average'):
        encoder.update_parameters(nn.Linear(2, 2))
