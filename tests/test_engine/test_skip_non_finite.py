# Copyright (c) OpenMMLab. All rights reserved.
import copy
from pathlib import Path

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from torch import nn

import projects.fame  # noqa: F401
from projects.fame.engine import SkipNonFiniteOptimWrapper
from projects.fame.models.heads import MoCoHead

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / '_base_'


def snapshot(model, wrapper):
    return (copy.deepcopy(model.state_dict()),
            copy.deepcopy(wrapper.optimizer.state_dict()))


def assert_same(before, after):
    """Equal model state dicts and optimizer state dicts."""
    (model_a, optim_a), (model_b, optim_b) = before, after
    torch.testing.assert_close(model_a, model_b, rtol=0, atol=0)
    torch.testing.assert_close(
        optim_a['state'], optim_b['state'], rtol=0, atol=0)
    assert optim_a['param_groups'] == optim_b['param_groups']


def test_non_finite_loss_skips_the_update(warnings_log):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    wrapper = SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        max_consecutive_skips=2)
    MessageHub.get_current_instance().update_info('iter', 6)
    x = torch.randn(4, 3)

    wrapper.update_params(model(x).pow(2).mean())  # a normal step
    before = snapshot(model, wrapper)
    assert before[1]['state']  # momentum buffers exist
    wrapper.update_params(model(x).mean() * float('nan'))
    assert_same(before, snapshot(model, wrapper))
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    assert wrapper.skipped_steps == 1
    assert warnings_log[-1].startswith('Non-finite loss at iteration 7')

    wrapper.update_params(model(x).pow(2).mean())  # resets the streak
    wrapper.update_params(model(x).mean() * float('inf'))
    with pytest.raises(
            RuntimeError, match='optim_wrapper.max_consecutive_skips'):
        wrapper.update_params(model(x).mean() * float('nan'))
    assert wrapper.skipped_steps == 3


def test_non_finite_keys_are_not_enqueued():
    torch.manual_seed(0)
    head = MoCoHead(in_channels=4, feat_dim=2, queue_len=6)
    queue, ptr = head.queue.clone(), head.queue_ptr.clone()
    keys = torch.ones(4, 2)
    keys[1, 0] = float('nan')
    head.enqueue(keys)
    assert torch.equal(head.queue, queue) and torch.equal(head.queue_ptr, ptr)
    head.enqueue(torch.ones(4, 2))
    assert int(head.queue_ptr) == 4
    assert torch.equal(head.queue[:4], torch.ones(4, 2))


@pytest.mark.parametrize('fused', [False, True])
def test_moco_step_with_a_non_finite_loss_changes_nothing_learnt(fused):
    init_default_scope('mmaction')
    model_cfg = Config.fromfile(
        str(CONFIG / 'models' / 'fame_r2plus1d_r18.py')).model
    model_cfg.backbone.base_channels = 8
    model_cfg.head.update(in_channels=64, feat_dim=16, queue_len=16)
    model_cfg.data_preprocessor.update(mean=(0., ) * 3, std=(1., ) * 3)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    wrapper = SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(
            model.parameters(), lr=0.1, momentum=0.9, fused=fused))
    gen = torch.Generator().manual_seed(0)
    data = dict(
        inputs=[
            torch.randint(
                0, 256, (1, 3, 4, 32, 32), generator=gen, dtype=torch.uint8)
            for _ in range(4)
        ],
        data_samples=[ActionDataSample() for _ in range(4)])
    model.train_step(copy.deepcopy(data), wrapper)
    before = snapshot(model, wrapper)
    # A temperature of 0 makes every logit infinite and the loss NaN.
    model.head.temperature = 0.
    log_vars = model.train_step(copy.deepcopy(data), wrapper)
    assert not torch.isfinite(torch.as_tensor(log_vars['loss']))
    assert wrapper.skipped_steps == 1
    after = snapshot(model, wrapper)
    # Weights and BN statistics of the query encoder are as before. (The
    # key encoder took its EMA step towards them, and the keys, finite,
    # were enqueued.)
    learnt = [
        k for k in before[0]
        if not k.startswith('key_encoder.') and k not in ('head.queue',
                                                          'head.queue_ptr')
    ]
    assert any('running_mean' in k for k in learnt)
    for name in learnt:
        assert torch.equal(before[0][name], after[0][name]), name
    assert_same((before[0], before[1]), (before[0], after[1]))
    for name, value in after[0].items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), name


# --------------------------------------------------------------------------
# Fused optimizers
# --------------------------------------------------------------------------


def fused_wrapper(model, **kwargs):
    return SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(
            model.parameters(),
            lr=0.1,
            momentum=0.9,
            weight_decay=1e-2,
            fused=True),
        **kwargs)


def test_fused_optimizer_skips(warnings_log):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    wrapper = fused_wrapper(model, max_consecutive_skips=2)
    message_hub = MessageHub.get_current_instance()
    x = torch.randn(4, 3)

    # A fresh optimizer's first step: nothing is made.
    message_hub.update_info('iter', 0)
    wrapper.update_params(model(x).mean() * float('nan'))
    assert not wrapper.optimizer.state
    assert wrapper.skipped_steps == 1
    message_hub.update_info('iter', 1)
    wrapper.update_params(model(x).pow(2).mean())
    assert wrapper.optimizer.state

    before = snapshot(model, wrapper)
    message_hub.update_info('iter', 6)
    wrapper.update_params(model(x).mean() * float('nan'))
    # Weights, momentum and weight decay untouched, no gradients.
    assert_same(before, snapshot(model, wrapper))
    assert all(p.grad is None for p in model.parameters())
    assert wrapper.skipped_steps == 2
    assert warnings_log[-1].startswith('Non-finite loss at iteration 7 '
                                       '(local value nan)')

    wrapper.update_params(model(x).pow(2).mean())  # resets the streak
    assert not torch.equal(model.weight, before[0]['weight'])
    wrapper.update_params(model(x).mean() * float('inf'))
    weight = model.weight.detach().clone()
    with pytest.raises(
            RuntimeError, match='optim_wrapper.max_consecutive_skips'):
        wrapper.update_params(model(x).mean() * float('nan'))
    assert torch.equal(model.weight, weight)
    assert wrapper.skipped_steps == 4


def test_fused_skipping_wrapper_steps_as_plain_sgd():
    """Finite steps: the same weights as the fused SGD alone."""
    torch.manual_seed(0)
    model = nn.Linear(5, 2)
    reference = copy.deepcopy(model)
    wrapper = fused_wrapper(model)
    plain = torch.optim.SGD(
        reference.parameters(),
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-2,
        fused=True)
    x = torch.randn(6, 5)
    for step in range(4):
        wrapper.update_params(model(x * step).pow(2).mean())
        reference(x * step).pow(2).mean().backward()
        plain.step()
        plain.zero_grad()
        for a, b in zip(model.parameters(), reference.parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert wrapper.skipped_steps == 0
