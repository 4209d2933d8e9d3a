# Copyright (c) OpenMMLab. All rights reserved.
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmaction.models import ActionDataPreprocessor
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.model import ExponentialMovingAverage
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

import projects.fame  # noqa: F401
from projects.fame.models.heads import global_pool
from tests.test_models.test_moco_head import hand_infonce

MEAN = (110.2008, 100.63983, 95.99475)
STD = (58.14765, 56.46975, 55.332195)

BACKBONES = Config.fromfile(
    str(
        Path(__file__).resolve().parents[2] / 'configs' / '_base_' /
        'models' / 'backbones.py'))
# The shipped R(2+1)D-18, narrowed to 64 output channels.
BACKBONE = dict(BACKBONES.r2plus1d_r18_backbone, base_channels=8)
# The shipped SlowFast-R50, narrowed to 64 + 8 output channels.
SLOWFAST = copy.deepcopy(BACKBONES.slowfast_r50_backbone.to_dict())
SLOWFAST['slow_pathway']['base_channels'] = 8
SLOWFAST['fast_pathway']['base_channels'] = 1


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    # Conv2plus1d and BN3d are looked up in the default scope.
    init_default_scope('mmaction')


def build_model(backbone=BACKBONE,
                in_channels=64,
                queue_len=32,
                seed=0,
                momentum=0.9,
                **preprocessor):
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='MoCoRecognizer',
            backbone=backbone,
            head=dict(
                type='MoCoHead',
                in_channels=in_channels,
                feat_dim=16,
                queue_len=queue_len),
            momentum=momentum,
            data_preprocessor=dict(
                type='ContrastiveDataPreprocessor',
                mean=MEAN,
                std=STD,
                **preprocessor)))
    return model


def train_batch(num_videos=2, t=4, size=32, seed=0):
    """2 clips per video, consecutive, as RepeatAugDataset gives them."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(
            0, 256, (1, 3, t, size, size), generator=gen, dtype=torch.uint8)
        for _ in range(2 * num_videos)
    ]
    samples = [
        ActionDataSample().set_gt_labels(torch.tensor([i]))
        for i in range(2 * num_videos)
    ]
    return dict(inputs=inputs, data_samples=samples)


def query_params(model):
    """Query encoder parameters under the key encoder's names."""
    params = {f'0.{k}': v for k, v in model.backbone.named_parameters()}
    params.update({
        f'1.{k}': v
        for k, v in model.head.projector.named_parameters()
    })
    return params


def optim_wrapper(model):
    return OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))


def normalise(clips):
    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    return (clips.float() - mean) / std


# --------------------------------------------------------------------------
# MoCoRecognizer
# --------------------------------------------------------------------------


def test_invalid_momentum():
    with pytest.raises(ValueError, match='momentum'):
        MODELS.build(
            dict(
                type='MoCoRecognizer',
                backbone=BACKBONE,
                head=dict(type='MoCoHead', in_channels=64, queue_len=32),
                momentum=1.))


@pytest.mark.parametrize('momentum', [0., 1., -0.5])
def test_momentum_out_of_range_is_refused(momentum):
    """MMEngine's EMA needs a source weight 1 - m in (0, 1)."""
    with pytest.raises(ValueError, match='momentum'):
        build_model(momentum=momentum)


def test_train_step_and_ema():
    model = build_model()
    model.train()
    wrapper = optim_wrapper(model)
    num_videos, m = 2, 0.9

    initial = {k: v.detach().clone() for k, v in query_params(model).items()}
    log_vars = model.train_step(train_batch(num_videos, seed=0), wrapper)
    assert {'loss', 'loss_contrast', 'top1_acc'} <= set(log_vars)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    assert 0 <= float(log_vars['top1_acc']) <= 1
    assert model.head.queue_ptr.item() == 2 * num_videos
    # First update: MMEngine copies the query encoder into the key encoder,
    # before the optimizer step.
    keys = dict(model.key_encoder.module.named_parameters())
    assert set(keys) == set(initial)
    for name, value in initial.items():
        assert torch.equal(keys[name], value), name
    # The optimizer did move the query encoder (else the check below is
    # vacuous).
    moved = [
        not torch.equal(p, initial[k]) for k, p in query_params(model).items()
    ]
    assert any(moved)

    # Second step: key = m * key + (1 - m) * query, with the query as it was
    # before this step's optimizer update.
    key_before = {k: v.detach().clone() for k, v in keys.items()}
    query_before = {
        k: v.detach().clone()
        for k, v in query_params(model).items()
    }
    log_vars = model.train_step(train_batch(num_videos, seed=1), wrapper)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    assert model.head.queue_ptr.item() == 4 * num_videos
    for name, value in model.key_encoder.module.named_parameters():
        expected = m * key_before[name] + (1 - m) * query_before[name]
        torch.testing.assert_close(
            value, expected, atol=1e-6, rtol=1e-5, msg=name)
    # Gradients reach the query encoder only (train_step zeroes them after
    # its step, so look at a plain backward pass).
    data = model.data_preprocessor(train_batch(num_videos, seed=2), True)
    model(**data, mode='loss')['loss_contrast'].backward()
    for name, param in model.key_encoder.named_parameters():
        assert not param.requires_grad, name
        assert param.grad is None, name
    for name, param in query_params(model).items():
        assert param.grad is not None, name


def cut_clip():
    """A still clip whose scene changes at frame 2."""
    cut = torch.full((1, 3, 4, 32, 32), 60, dtype=torch.uint8)
    cut[:, :, 2:] = 200
    return cut


def panned_clip():
    """A still texture panned by a pixel a frame."""
    gen = torch.Generator().manual_seed(0)
    scene = torch.randint(0, 256, (3, 32, 40), generator=gen)
    scene = torch.nn.functional.avg_pool2d(scene[None].float(), 3, 1, 1)[0]
    pan = torch.stack([scene[:, :, t:t + 32] for t in range(4)], 1)
    return pan[None].round().to(torch.uint8)


@pytest.mark.parametrize('guard, clip, key', [
    (dict(max_cut_ratio=6.), cut_clip, 'fame_cuts_unmerged'),
    (dict(compensate_camera=True), panned_clip, 'fame_camera_compensated'),
])
def test_fame_guard_counts_are_logged(guard, clip, key):
    model = build_model(fame=dict(type='FAMEBlending', **guard))
    model.train()
    batch = train_batch(num_videos=2, seed=0)
    # The first views: video 0's still, video 1's the guarded clip.
    batch['inputs'][0] = batch['inputs'][0][:, :, :1].repeat(1, 1, 4, 1, 1)
    batch['inputs'][2] = clip()
    log_vars = model.train_step(batch, optim_wrapper(model))
    assert log_vars[key] == 1
    plain = build_model()
    plain.train()
    log_vars = plain.train_step(train_batch(2), optim_wrapper(plain))
    assert key not in log_vars


def step_gradients(per_direction_backward, scale=1.):
    """Loss and query gradients of ``scale * loss`` for one batch."""
    model = build_model()
    model.per_direction_backward = per_direction_backward
    model.train()
    data = model.data_preprocessor(train_batch(2, seed=5), True)
    loss = model(**data, mode='loss')['loss_contrast']
    # Before the outer backward pass, no parameter holds a gradient: the
    # first direction's gradients are kept aside, not in ``.grad``.
    assert all(p.grad is None for p in model.parameters())
    (scale * loss).backward()
    return loss.detach(), {
        k: p.grad.clone()
        for k, p in query_params(model).items()
    }


def test_per_direction_backward_gives_the_gradients_of_one_backward():
    """Both ways give the same loss and gradients, scaled as the loss is
    (a loss scale or accumulation factor reaches the early term too)."""
    loss, grads = step_gradients(False, scale=3.)
    early_loss, early_grads = step_gradients(True, scale=3.)
    torch.testing.assert_close(early_loss, loss)
    assert grads.keys() == early_grads.keys()
    for name, grad in grads.items():
        largest = grad.abs().max().item()
        assert largest > 0, name
        # Float32 sums in another order: equal to 2e-5 of the largest
        # entry (measured: at most 3.4e-6; the random stem's gradients
        # reach 6e5).
        torch.testing.assert_close(
            early_grads[name], grad, atol=2e-5 * largest, rtol=0, msg=name)


def test_per_direction_backward_only_when_a_backward_pass_follows():
    model = build_model()
    clips = torch.zeros(1)
    model.train()
    assert model._backward_per_direction(clips)
    with torch.no_grad():
        assert not model._backward_per_direction(clips)
    with torch.autocast('cpu', dtype=torch.float16):
        assert not model._backward_per_direction(clips)  # no loss scale
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert model._backward_per_direction(clips)
    # A device without autocast (the benchmark's audit runs on 'meta').
    assert model._backward_per_direction(clips.to('meta'))
    model.eval()
    assert not model._backward_per_direction(clips)
    model.train()
    model.per_direction_backward = False
    assert not model._backward_per_direction(clips)


def test_checkpointed_backbone_trains_with_one_backward():
    """MMAction2's ``with_cp`` (reentrant checkpointing) cannot go through
    ``torch.autograd.grad``: the model keeps both graphs instead."""
    model = build_model(backbone=dict(BACKBONE, with_cp=True))
    model.train()
    assert not model._backward_per_direction(torch.zeros(1))
    log_vars = model.train_step(train_batch(2, seed=6), optim_wrapper(model))
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))


@pytest.mark.parametrize('temperature', [0.1, 0.5])
def test_loss_is_symmetric_infonce_of_the_encoders(temperature):
    """``loss`` = the mean of both directions' InfoNCE, written out by hand,
    against the queue as it was before the step; then the keys of view 2
    and of view 1 are enqueued, in that order."""
    model = build_model()
    model.head.temperature = temperature
    model.train()
    gen = torch.Generator().manual_seed(3)
    view1, view2 = torch.randn(2, 2, 3, 4, 32, 32, generator=gen)
    # Bring the key encoder past its first (copying) update, then make it
    # different from the query encoder.
    model.key_encoder.update_parameters(model._query_encoder())
    with torch.no_grad():
        for p in model.key_encoder.module.parameters():
            p.add_(0.01)
    key_copy = copy.deepcopy(model.key_encoder)
    queue = model.head.queue.clone()
    losses = model([view1, view2], mode='loss')
    # Recompute by hand with the same EMA update on a copy.
    key_copy.update_parameters(model._query_encoder())
    with torch.no_grad():
        k1, k2 = key_copy(view1), key_copy(view2)
        q1 = model.head.projector(model.backbone(view1))
        q2 = model.head.projector(model.backbone(view2))
    loss_12, acc_12 = hand_infonce(q1, k2, queue, temperature)
    loss_21, acc_21 = hand_infonce(q2, k1, queue, temperature)
    torch.testing.assert_close(losses['loss_contrast'],
                               (loss_12 + loss_21) / 2)
    assert losses['top1_acc'].item() == pytest.approx((acc_12 + acc_21) / 2)
    assert model.head.queue_ptr.item() == 4
    torch.testing.assert_close(model.head.queue[:2], k2)
    torch.testing.assert_close(model.head.queue[2:4], k1)
    assert torch.equal(model.head.queue[4:], queue[4:])


def test_eval_features_and_val_step():
    model = build_model()
    model.eval()
    clips = torch.randn(3, 3, 4, 32, 32)
    feats = model(clips, mode='tensor')
    assert feats.shape == (3, 64)

    num_videos, num_clips = 2, 3
    gen = torch.Generator().manual_seed(4)
    inputs = [
        torch.randint(
            0,
            256, (num_clips, 3, 4, 32, 32),
            generator=gen,
            dtype=torch.uint8) for _ in range(num_videos)
    ]
    samples = [ActionDataSample() for _ in range(num_videos)]
    outputs = model.val_step(dict(inputs=inputs, data_samples=samples))
    assert len(outputs) == num_videos
    with torch.no_grad():
        for video, sample in zip(inputs, outputs):
            assert sample.backbone_feat.shape == (64, )
            per_clip = torch.stack([
                global_pool(model.backbone(normalise(clip)[None]))[0]
                for clip in video
            ])
            torch.testing.assert_close(
                sample.backbone_feat, per_clip.mean(0), atol=1e-5, rtol=1e-4)
    # test_step is the same path.
    outputs = model.test_step(
        dict(
            inputs=inputs,
            data_samples=[ActionDataSample() for _ in range(num_videos)]))
    assert outputs[0].backbone_feat.shape == (64, )
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(clips, mode='bogus')


def test_state_dict_round_trip(tmp_path):
    model = build_model(seed=0)
    wrapper = optim_wrapper(model)
    for seed in range(2):
        model.train_step(train_batch(seed=seed), wrapper)
    state = model.state_dict()
    assert any(k.startswith('key_encoder.module.') for k in state)
    assert {'head.queue', 'head.queue_ptr'} <= set(state)
    assert state['head.queue_ptr'].item() == 8
    path = tmp_path / 'model.pth'
    torch.save(state, path)
    loaded = torch.load(path, weights_only=True)
    fresh = build_model(seed=1)
    assert not torch.equal(fresh.head.queue, model.head.queue)
    fresh.load_state_dict(loaded)
    fresh_state = fresh.state_dict()
    assert set(fresh_state) == set(state)
    # The key encoder (MMEngine's EMA) resumes its step count.
    assert isinstance(fresh.key_encoder, ExponentialMovingAverage)
    assert int(state['key_encoder.steps']) == 2
    assert int(fresh.key_encoder.steps) == 2
    for name, value in state.items():
        assert torch.equal(fresh_state[name], value), name
    # The key encoder of the fresh model is really the loaded one.
    for (name, a), b in zip(model.key_encoder.module.named_parameters(),
                            fresh.key_encoder.module.parameters()):
        assert torch.equal(a, b), name


def test_slowfast_backbone():
    feats = (torch.randn(2, 5, 1, 2, 2), torch.randn(2, 3, 4, 2, 2))
    assert global_pool(feats).shape == (2, 8)
    # Tiny SlowFast: slow 8 * 8 * 4 = 256 channels, fast 1 * 8 * 4 = 32.
    model = build_model(backbone=SLOWFAST, in_channels=288)
    log_vars = model.train_step(
        train_batch(num_videos=2, t=8), optim_wrapper(model))
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    assert model.head.queue_ptr.item() == 4
    model.eval()
    feats = model(torch.randn(2, 3, 8, 32, 32), mode='tensor')
    assert feats.shape == (2, 288)


# --------------------------------------------------------------------------
# ContrastiveDataPreprocessor
# --------------------------------------------------------------------------


def build_preprocessor(**kwargs):
    cfg = dict(
        type='ContrastiveDataPreprocessor',
        mean=MEAN,
        std=STD,
        fame=dict(type='FAMEBlending', prob=0.),
        grayscale_prob=0.,
        colour_jitter=dict(p=0.),
        blur_prob=0.)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def pixels_of(view):
    """Back to [0, 1] pixels from a normalised view."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1, 1)
    return (view * std + mean) / 255


def test_preprocessor_views_and_order():
    preprocessor = build_preprocessor()
    data = train_batch(num_videos=3, t=4, size=16, seed=5)
    inputs = list(data['inputs'])
    out = preprocessor(data, training=True)
    view1, view2 = out['inputs']
    assert view1.shape == view2.shape == (3, 3, 4, 16, 16)
    assert view1.dtype == torch.float32
    assert len(out['data_samples']) == 3
    # One data sample per video: the first of each pair.
    labels = [s.gt_labels.item.item() for s in out['data_samples']]
    assert labels == [0, 2, 4]
    for i in range(3):
        torch.testing.assert_close(view1[i], normalise(inputs[2 * i][0]))
        torch.testing.assert_close(view2[i], normalise(inputs[2 * i + 1][0]))


@pytest.mark.parametrize('augment', [
    dict(),
    dict(grayscale_prob=0.2, colour_jitter=dict(p=0.8), blur_prob=0.5),
    dict(grayscale_prob=1., colour_jitter=dict(p=1.), blur_prob=1.),
])
def test_preprocessor_views_are_contiguous(augment):
    # kornia's VideoSequential returns a transposed view; NCCL's collectives
    # (shuffle BN) refuse non-contiguous tensors.
    preprocessor = build_preprocessor(
        fame=dict(type='FAMEBlending'), **augment)
    view1, view2 = preprocessor(train_batch(t=8), training=True)['inputs']
    for view in (view1, view2):
        assert view.shape == (2, 3, 8, 32, 32)
        assert view.is_contiguous()


def test_preprocessor_with_fame_merges_view1_only():
    preprocessor = build_preprocessor(fame=dict(type='FAMEBlending'))
    data = train_batch(num_videos=4, t=4, size=16, seed=6)
    inputs = list(data['inputs'])
    torch.manual_seed(0)
    view1, view2 = preprocessor(data, training=True)['inputs']
    for i in range(4):
        torch.testing.assert_close(view2[i], normalise(inputs[2 * i + 1][0]))
    originals = torch.stack([normalise(x[0]) for x in inputs[0::2]])
    # Each view-1 pixel comes from some view-1 clip at the same place.
    diffs = (view1[:, None] - originals[None]).abs()  # (4, 4, C, T, H, W)
    assert (diffs.amin(1) < 1e-4).all()
    assert not torch.allclose(view1, originals)


def test_preprocessor_uses_stored_masks():
    """Masks of the FAMEMask transform, carried in the data samples' meta
    information, replace the ones computed on the device."""
    preprocessor = build_preprocessor(fame=dict(type='FAMEBlending'))
    num_videos = 4
    data = train_batch(num_videos=num_videos, t=4, size=16, seed=10)
    rng = np.random.default_rng(0)
    masks = [rng.random((16, 16)) > 0.5 for _ in range(2 * num_videos)]
    for sample, mask in zip(data['data_samples'], masks):
        sample.set_metainfo(dict(fame_mask=mask))
    inputs = list(data['inputs'])
    torch.manual_seed(0)
    view1, _ = preprocessor(data, training=True)['inputs']
    originals = torch.stack([normalise(x[0]) for x in inputs[0::2]])
    sources = []
    for i in range(num_videos):
        inside = torch.from_numpy(masks[2 * i])
        torch.testing.assert_close(view1[i][:, :, inside],
                                   originals[i][:, :, inside])
        matches = [
            j for j in range(num_videos)
            if torch.allclose(view1[i][:, :, ~inside], originals[j][:, :,
                                                                    ~inside])
        ]
        assert len(matches) == 1
        sources.append(matches[0])
    assert sorted(sources) == list(range(num_videos))


def test_preprocessor_odd_batch():
    preprocessor = build_preprocessor()
    data = train_batch(num_videos=2, size=16)
    data['inputs'] = data['inputs'][:3]
    data['data_samples'] = data['data_samples'][:3]
    with pytest.raises(ValueError, match='RepeatAugDataset'):
        preprocessor(data, training=True)


def test_preprocessor_not_training():
    preprocessor = build_preprocessor(fame=dict(type='FAMEBlending'))
    reference = ActionDataPreprocessor(
        mean=MEAN, std=STD, format_shape='NCTHW')
    gen = torch.Generator().manual_seed(7)
    inputs = [
        torch.randint(
            0, 256, (2, 3, 4, 16, 16), generator=gen, dtype=torch.uint8)
        for _ in range(3)
    ]
    out = preprocessor(
        dict(inputs=inputs, data_samples=[ActionDataSample()] * 3),
        training=False)
    expected = reference(
        dict(inputs=inputs, data_samples=[ActionDataSample()] * 3),
        training=False)
    assert out['inputs'].shape == (3, 2, 3, 4, 16, 16)
    torch.testing.assert_close(out['inputs'], expected['inputs'])
    torch.testing.assert_close(out['inputs'][1, 0], normalise(inputs[1][0]))


def test_preprocessor_grayscale_per_clip():
    preprocessor = build_preprocessor(grayscale_prob=1.)
    data = train_batch(num_videos=2, t=3, size=16, seed=8)
    view1, view2 = preprocessor(data, training=True)['inputs']
    for view in (view1, view2):
        pixels = pixels_of(view)
        torch.testing.assert_close(
            pixels[:, 0], pixels[:, 1], atol=1e-5, rtol=0)
        torch.testing.assert_close(
            pixels[:, 0], pixels[:, 2], atol=1e-5, rtol=0)


def test_preprocessor_colour_jitter_per_clip():
    """Brightness only: one random factor per clip, the same for all its
    frames. Inputs are mid-grey-ish so that nothing is clamped; a per-frame
    least-squares fit ``out = a * x + b`` must give one (a, b) per clip."""
    preprocessor = build_preprocessor(colour_jitter=dict(brightness=0.4, p=1.))
    num_videos, t = 3, 4
    gen = torch.Generator().manual_seed(9)
    inputs = [
        torch.randint(
            77, 153, (1, 3, t, 16, 16), generator=gen, dtype=torch.uint8)
        for _ in range(2 * num_videos)
    ]
    data = dict(
        inputs=inputs,
        data_samples=[ActionDataSample() for _ in range(2 * num_videos)])
    torch.manual_seed(0)
    view1, view2 = preprocessor(data, training=True)['inputs']
    outs = torch.cat([pixels_of(view1), pixels_of(view2)])
    ins = torch.cat([
        torch.stack([x[0] for x in inputs[0::2]]),
        torch.stack([x[0] for x in inputs[1::2]])
    ]).float() / 255
    params = []
    for clip_in, clip_out in zip(ins, outs):
        assert clip_out.min() > 0 and clip_out.max() < 1  # nothing clamped
        frame_params = []
        for i in range(t):
            x = clip_in[:, i].flatten()
            y = clip_out[:, i].flatten()
            design = torch.stack([x, torch.ones_like(x)], dim=1).double()
            sol = torch.linalg.lstsq(design, y.double()[:, None]).solution
            residual = design @ sol - y.double()[:, None]
            assert residual.abs().max() < 1e-4
            frame_params.append(sol.flatten())
        frame_params = torch.stack(frame_params)
        # Same colour transform on every frame of the clip.
        torch.testing.assert_close(
            frame_params,
            frame_params[:1].expand_as(frame_params),
            atol=1e-4,
            rtol=0)
        # And frame-to-frame changes follow the same transform.
        a = frame_params[0, 0].float()
        torch.testing.assert_close(
            clip_out[:, 1:] - clip_out[:, :1],
            a * (clip_in[:, 1:] - clip_in[:, :1]),
            atol=1e-4,
            rtol=0)
        params.append(frame_params[0])
    params = torch.stack(params)
    # Drawn per clip: the clips do not share one transform.
    assert (params[:, 0].max() - params[:, 0].min()) > 0.05 or \
        (params[:, 1].max() - params[:, 1].min()) > 0.05
    # And it is not the identity.
    assert not torch.allclose(outs, ins, atol=1e-3)
