# Copyright (c) OpenMMLab. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS

import projects.fame  # noqa: F401
from projects.fame.models.heads import MoCoHead, Projector, global_pool


def unit(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=gen), dim=-1)


def build_head(queue_len=8, feat_dim=4, temperature=0.1, in_channels=6):
    return MODELS.build(
        dict(
            type='MoCoHead',
            in_channels=in_channels,
            feat_dim=feat_dim,
            queue_len=queue_len,
            temperature=temperature))


def hand_infonce(queries, keys, queue, temperature):
    """Mean over samples of -log softmax(logits)[0], logits by dot
    products, one direction."""
    losses, hits = [], []
    for q, k in zip(queries, keys):
        logits = [torch.dot(q, k) / temperature]
        logits += [torch.dot(q, neg) / temperature for neg in queue]
        logits = torch.stack(logits)
        log_z = torch.log(torch.exp(logits - logits.max()).sum()) + \
            logits.max()
        losses.append(log_z - logits[0])
        hits.append(float(all(logits[0] > x for x in logits[1:])))
    return torch.stack(losses).mean(), sum(hits) / len(hits)


def test_projector_and_global_pool():
    feats = torch.randn(2, 6, 2, 3, 3)
    torch.testing.assert_close(global_pool(feats), feats.mean((2, 3, 4)))
    slow, fast = torch.randn(2, 6, 1, 3, 3), torch.randn(2, 2, 4, 3, 3)
    pooled = global_pool((slow, fast))
    assert pooled.shape == (2, 8)
    torch.testing.assert_close(pooled[:, :6], slow.mean((2, 3, 4)))
    torch.testing.assert_close(pooled[:, 6:], fast.mean((2, 3, 4)))
    proj = Projector(6, 4)
    out = proj(feats)
    assert out.shape == (2, 4)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    expected = F.normalize(proj.mlp(feats.mean((2, 3, 4))), dim=1)
    torch.testing.assert_close(out, expected)


def test_init_and_invalid_args():
    head = build_head(queue_len=8, feat_dim=4)
    assert isinstance(head, MoCoHead)
    assert head.queue.shape == (8, 4)
    torch.testing.assert_close(head.queue.norm(dim=1), torch.ones(8))
    assert head.queue_ptr.item() == 0 and head.queue_ptr.dtype == torch.long
    with pytest.raises(ValueError):
        build_head(queue_len=0)
    with pytest.raises(ValueError):
        build_head(temperature=0.)


@pytest.mark.parametrize('temperature', [0.1, 0.5])
def test_loss_is_symmetric_infonce(temperature):
    head = build_head(queue_len=8, feat_dim=4, temperature=temperature)
    queue = head.queue.clone()
    q1, q2, k1, k2 = (unit(2, 4, seed=s) for s in range(4))
    losses = head.loss((q1, q2), (k1, k2))
    assert set(losses) == {'loss_contrast', 'top1_acc'}
    loss_12, acc_12 = hand_infonce(q1, k2, queue, temperature)
    loss_21, acc_21 = hand_infonce(q2, k1, queue, temperature)
    torch.testing.assert_close(losses['loss_contrast'],
                               (loss_12 + loss_21) / 2)
    assert math.isclose(losses['top1_acc'].item(), (acc_12 + acc_21) / 2)


def test_top1_acc():
    # Unit-norm random queue: q . neg lies strictly in (-1, 1).
    head = build_head(queue_len=8, feat_dim=4)
    q = unit(2, 4, seed=0)
    # Direction 1 (q1 = q against k2 = q): positive logit 1 wins.
    # Direction 2 (q2 = q against k1 = -q): positive logit -1 loses.
    losses = head.loss((q, q), (-q, q))
    assert losses['top1_acc'].item() == 0.5
    # Fresh heads: the queue now holds q itself.
    losses = build_head().loss((q, q), (q, q))
    assert losses['top1_acc'].item() == 1.
    losses = build_head().loss((q, q), (-q, -q))
    assert losses['top1_acc'].item() == 0.


def test_queue_update_order():
    head = build_head(queue_len=8, feat_dim=4)
    old = head.queue.clone()
    q1, q2, k1, k2 = (unit(2, 4, seed=s) for s in range(4))
    head.loss((q1, q2), (k1, k2))
    assert head.queue_ptr.item() == 4
    torch.testing.assert_close(head.queue[:2], k2)
    torch.testing.assert_close(head.queue[2:4], k1)
    assert torch.equal(head.queue[4:], old[4:])


@pytest.mark.parametrize('n', [1, 2])
def test_queue_pointer_wraps(n):
    queue_len = 6
    head = build_head(queue_len=queue_len, feat_dim=4)
    expected = head.queue.clone()
    ptr = 0
    for step in range(3):
        q1, q2, k1, k2 = (unit(n, 4, seed=10 * step + s) for s in range(4))
        head.loss((q1, q2), (k1, k2))
        for j, key in enumerate(torch.cat([k2, k1])):
            expected[(ptr + j) % queue_len] = key
        ptr = (ptr + 2 * n) % queue_len
        assert head.queue_ptr.item() == ptr
        torch.testing.assert_close(head.queue, expected)
    assert ptr == 0
    if n == 1:
        # 3 steps of 2 keys: every slot written exactly once, in order.
        keys = [
            torch.cat(
                [unit(1, 4, seed=10 * s + 3),
                 unit(1, 4, seed=10 * s + 2)]) for s in range(3)
        ]
        torch.testing.assert_close(head.queue, torch.cat(keys))


def test_too_many_keys():
    head = build_head(queue_len=3, feat_dim=4)
    q1, q2, k1, k2 = (unit(2, 4, seed=s) for s in range(4))
    with pytest.raises(ValueError, match='queue_len'):
        head.loss((q1, q2), (k1, k2))


def test_gradients_flow_to_queries_only():
    head = build_head(queue_len=8, feat_dim=4, temperature=0.2)
    queue = head.queue.clone()
    q1, q2 = (unit(2, 4, seed=s).requires_grad_() for s in range(2))
    k1, k2 = unit(2, 4, seed=2), unit(2, 4, seed=3)
    loss = head.loss((q1, q2), (k1, k2))['loss_contrast']
    loss.backward()
    # Same gradients as the hand-written loss against the old queue.
    r1, r2 = (q.detach().clone().requires_grad_() for q in (q1, q2))
    ref = (hand_infonce(r1, k2, queue, 0.2)[0] +
           hand_infonce(r2, k1, queue, 0.2)[0]) / 2
    ref.backward()
    torch.testing.assert_close(q1.grad, r1.grad)
    torch.testing.assert_close(q2.grad, r2.grad)
    assert q1.grad.abs().sum() > 0 and q2.grad.abs().sum() > 0
    assert not head.queue.requires_grad and head.queue.grad is None
    # The head's own parameters (the projector) are not part of this loss.
    assert all(p.grad is None for p in head.parameters())


def test_queue_in_state_dict_round_trip(tmp_path):
    head = build_head(queue_len=8, feat_dim=4)
    for step in range(3):
        q1, q2, k1, k2 = (unit(1, 4, seed=10 * step + s) for s in range(4))
        head.loss((q1, q2), (k1, k2))
    state = head.state_dict()
    assert 'queue' in state and 'queue_ptr' in state
    assert state['queue_ptr'].item() == 6
    path = tmp_path / 'head.pth'
    torch.save(state, path)
    fresh = build_head(queue_len=8, feat_dim=4)
    assert not torch.equal(fresh.queue, head.queue)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(fresh.queue, head.queue)
    assert torch.equal(fresh.queue_ptr, head.queue_ptr)
    for name, param in head.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], param), name
    # Training resumes at the restored pointer.
    q1, q2, k1, k2 = (unit(1, 4, seed=100 + s) for s in range(4))
    fresh.loss((q1, q2), (k1, k2))
    torch.testing.assert_close(fresh.queue[6:], torch.cat([k2, k1]))
    assert fresh.queue_ptr.item() == 0
