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
def test_contrast_is_infonce(temperature):
    head = build_head(queue_len=8, feat_dim=4, temperature=temperature)
    q, k = unit(2, 4, seed=0), unit(2, 4, seed=1)
    loss, top1 = head.contrast(q, k, head.queue)
    expected_loss, expected_top1 = hand_infonce(q, k, head.queue, temperature)
    torch.testing.assert_close(loss, expected_loss)
    assert math.isclose(top1.item(), expected_top1)


def test_top1_acc():
    # Unit-norm random queue: q . neg lies strictly in (-1, 1).
    head = build_head(queue_len=8, feat_dim=4)
    q = unit(2, 4, seed=0)
    assert head.contrast(q, q, head.queue)[1].item() == 1.  # positive 1 wins
    assert head.contrast(q, -q, head.queue)[1].item() == 0.  # -1 loses
    # A tie with a negative goes to the positive (argmax takes the first).
    assert head.contrast(q, q, q)[1].item() == 1.
    # Half the queries win.
    key = torch.stack([q[0], -q[1]])
    assert head.contrast(q, key, head.queue)[1].item() == 0.5


def test_enqueue_replaces_the_oldest():
    head = build_head(queue_len=8, feat_dim=4)
    old = head.queue.clone()
    keys = unit(4, 4, seed=0)
    head.enqueue(keys)
    assert head.queue_ptr.item() == 4
    torch.testing.assert_close(head.queue[:4], keys)
    assert torch.equal(head.queue[4:], old[4:])


@pytest.mark.parametrize('n', [1, 2])
def test_queue_pointer_wraps(n):
    queue_len = 6
    head = build_head(queue_len=queue_len, feat_dim=4)
    expected = head.queue.clone()
    ptr = 0
    for step in range(3):
        keys = unit(2 * n, 4, seed=10 * step)
        head.enqueue(keys)
        for j, key in enumerate(keys):
            expected[(ptr + j) % queue_len] = key
        ptr = (ptr + 2 * n) % queue_len
        assert head.queue_ptr.item() == ptr
        torch.testing.assert_close(head.queue, expected)
    assert ptr == 0
    if n == 1:
        # 3 steps of 2 keys: every slot written exactly once, in order.
        keys = [unit(2, 4, seed=10 * s) for s in range(3)]
        torch.testing.assert_close(head.queue, torch.cat(keys))


def test_too_many_keys():
    head = build_head(queue_len=3, feat_dim=4)
    with pytest.raises(ValueError, match='queue_len'):
        head.enqueue(unit(4, 4))


def test_gradients_flow_to_queries_only():
    head = build_head(queue_len=8, feat_dim=4, temperature=0.2)
    queue = head.queue.clone()
    q = unit(2, 4, seed=0).requires_grad_()
    k = unit(2, 4, seed=2)
    head.contrast(q, k, head.queue)[0].backward()
    # Same gradients as the hand-written loss.
    r = q.detach().clone().requires_grad_()
    hand_infonce(r, k, queue, 0.2)[0].backward()
    torch.testing.assert_close(q.grad, r.grad)
    assert q.grad.abs().sum() > 0
    assert not head.queue.requires_grad and head.queue.grad is None
    # The head's own parameters (the projector) are not part of this loss.
    assert all(p.grad is None for p in head.parameters())


def test_queue_in_state_dict_round_trip(tmp_path):
    head = build_head(queue_len=8, feat_dim=4)
    for step in range(3):
        head.enqueue(unit(2, 4, seed=10 * step))
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
    keys = unit(2, 4, seed=100)
    fresh.enqueue(keys)
    torch.testing.assert_close(fresh.queue[6:], keys)
    assert fresh.queue_ptr.item() == 0
