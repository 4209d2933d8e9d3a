# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch
from mmaction.models import ActionDataPreprocessor
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample

import projects.fame  # noqa: F401
from projects.fame.ops import foreground_mask

MEAN = (110.2008, 100.63983, 95.99475)
STD = (58.14765, 56.46975, 55.332195)


def random_clips(n=4, t=4, size=16, seed=0):
    """Random RGB clips in [0, 1], all pixels distinct between clips."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, t, size, size, generator=gen)


def background_sources(out, clips, masks):
    """Index of the clip whose pixels fill the background of each output
    clip, after checking that the foreground is the clip's own."""
    sources = []
    for i in range(out.shape[0]):
        inside = masks[i]
        assert torch.equal(out[i][:, :, inside], clips[i][:, :, inside])
        matches = [
            j for j in range(clips.shape[0])
            if torch.equal(out[i][:, :, ~inside], clips[j][:, :, ~inside])
        ]
        assert len(matches) == 1, f'clip {i}: background from {matches}'
        sources.append(matches[0])
    return sources


def make_samples(n):
    samples = []
    for i in range(n):
        sample = ActionDataSample()
        sample.set_gt_labels(torch.tensor([i]))
        samples.append(sample)
    return samples


def test_build_and_invalid_args():
    blending = MODELS.build(dict(type='FAMEBlending', beta=0.3, prob=0.7))
    assert blending.beta == 0.3 and blending.prob == 0.7
    with pytest.raises(ValueError, match='beta'):
        MODELS.build(dict(type='FAMEBlending', beta=0.))
    with pytest.raises(ValueError, match='beta'):
        MODELS.build(dict(type='FAMEBlending', beta=1.2))
    with pytest.raises(ValueError, match='prob'):
        MODELS.build(dict(type='FAMEBlending', prob=1.1))
    with pytest.raises(ValueError, match='mean'):
        MODELS.build(dict(type='FAMEBlending', mean=MEAN))


def test_prob_zero_is_identity():
    blending = MODELS.build(dict(type='FAMEBlending', prob=0.))
    clips = random_clips()
    assert torch.equal(blending.merge(clips), clips)
    samples = make_samples(4)
    imgs = clips.view(2, 2, 3, 4, 16, 16) * 255
    out, out_samples = blending(imgs, samples)
    assert torch.equal(out, imgs)
    assert out_samples is samples


def test_single_clip_is_unchanged():
    blending = MODELS.build(dict(type='FAMEBlending', prob=1.))
    clips = random_clips(n=1)
    for seed in range(3):
        torch.manual_seed(seed)
        assert torch.equal(blending.merge(clips), clips)


def test_merge_pastes_foreground_on_one_background():
    blending = MODELS.build(dict(type='FAMEBlending', beta=0.4, prob=1.))
    clips = random_clips(n=5, seed=1)
    masks = foreground_mask(clips, 0.4)
    seen = set()
    for seed in range(4):
        torch.manual_seed(seed)
        out = blending.merge(clips)
        assert out.shape == clips.shape
        sources = background_sources(out, clips, masks)
        # One background per clip, each clip lending its background once.
        assert sorted(sources) == list(range(5))
        seen.add(tuple(sources))
    assert len(seen) > 1  # the permutation is random


def test_merge_uses_given_masks_and_pixels():
    blending = MODELS.build(dict(type='FAMEBlending', beta=0.5))
    clips = random_clips(n=3, seed=2)
    masks = torch.zeros(3, 16, 16, dtype=torch.bool)
    masks[:, :8] = True
    torch.manual_seed(0)
    out = blending.merge(clips, masks=masks)
    assert sorted(background_sources(out, clips, masks)) == [0, 1, 2]
    # Masks found on ``pixels``, applied to ``clips``.
    scaled = clips * 7 - 3
    torch.manual_seed(0)
    out = blending.merge(scaled, pixels=clips)
    background_sources(out, scaled, foreground_mask(clips, 0.5))


def test_prob_between_zero_and_one():
    blending = MODELS.build(dict(type='FAMEBlending', beta=0.5, prob=0.5))
    clips = random_clips(n=8, seed=3)
    masks = foreground_mask(clips, 0.5)
    kept = 0
    for seed in range(5):
        torch.manual_seed(seed)
        out = blending.merge(clips)
        for i in range(8):
            if torch.equal(out[i], clips[i]):
                kept += 1
            else:
                # Merged clips keep their own foreground.
                assert torch.equal(out[i][:, :, masks[i]], clips[i][:, :,
                                                                    masks[i]])
    # About half the clips are left alone (plus the few mapped to
    # themselves); all or none would mean prob is ignored.
    assert 5 < kept < 35


def test_call_on_normalised_6d_batch():
    n, num_clips = 3, 2
    gen = torch.Generator().manual_seed(4)
    pixels = torch.rand(n, num_clips, 3, 4, 16, 16, generator=gen) * 255
    mean = torch.tensor(MEAN).view(3, 1, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1, 1)
    normalised = (pixels - mean) / std
    samples = make_samples(n)
    labels = [s.gt_labels.item.clone() for s in samples]

    blending = MODELS.build(
        dict(type='FAMEBlending', beta=0.5, mean=MEAN, std=STD))
    torch.manual_seed(0)
    out, out_samples = blending(normalised, samples)

    plain = MODELS.build(dict(type='FAMEBlending', beta=0.5))
    torch.manual_seed(0)
    merged, _ = plain.do_blending(pixels, None)
    expected = (merged - mean) / std

    assert out.shape == normalised.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # The same thing, spelled out: masks of the [0, 1] pixels of the
    # n * num_clips clips, one permutation of them.
    flat = pixels.view(-1, 3, 4, 16, 16)
    masks = foreground_mask(flat / 255, 0.5)
    sources = background_sources(
        out.view(-1, 3, 4, 16, 16), normalised.view(-1, 3, 4, 16, 16), masks)
    assert sorted(sources) == list(range(n * num_clips))
    # Data samples and labels are untouched.
    assert out_samples is samples
    for sample, label in zip(out_samples, labels):
        assert torch.equal(sample.gt_labels.item, label)


def test_in_action_data_preprocessor():
    preprocessor = ActionDataPreprocessor(
        mean=MEAN,
        std=STD,
        format_shape='NCTHW',
        blending=dict(type='FAMEBlending', mean=MEAN, std=STD))
    n, num_clips = 4, 1
    gen = torch.Generator().manual_seed(5)
    inputs = [
        torch.randint(
            0,
            256, (num_clips, 3, 4, 16, 16),
            generator=gen,
            dtype=torch.uint8) for _ in range(n)
    ]
    samples = make_samples(n)
    torch.manual_seed(0)
    data = preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)
    out = data['inputs']
    assert out.shape == (n, num_clips, 3, 4, 16, 16)
    assert out.dtype == torch.float32
    assert len(data['data_samples']) == n
    labels = [s.gt_labels.item.item() for s in data['data_samples']]
    assert labels == list(range(n))
    normalised = (
        (torch.stack(inputs).float() - torch.tensor(MEAN).view(3, 1, 1, 1)) /
        torch.tensor(STD).view(3, 1, 1, 1))
    masks = foreground_mask(torch.stack(inputs).float().flatten(0, 1) / 255)
    # Not exactly equal: the masks are found on pixels recovered from the
    # normalised inputs; the merge itself copies normalised values.
    flat_out = out.flatten(0, 1)
    flat_in = normalised.flatten(0, 1)
    for i in range(n):
        inside = masks[i]
        assert torch.equal(flat_out[i][:, :, inside], flat_in[i][:, :, inside])
    # Outside training the blending is not applied.
    data = preprocessor(
        dict(inputs=inputs, data_samples=make_samples(n)), training=False)
    torch.testing.assert_close(data['inputs'], normalised)


# --------------------------------------------------------------------------
# FAMEMask transform
# --------------------------------------------------------------------------


@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
def test_fame_mask_transform(hue_mode):
    transform = TRANSFORMS.build(
        dict(type='FAMEMask', beta=0.3, hue_mode=hue_mode))
    rng = np.random.default_rng(0)
    frames = [
        rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(4)
    ]
    results = transform(dict(imgs=list(frames)))
    mask = results['fame_mask']
    assert isinstance(mask, np.ndarray)
    assert mask.dtype == np.bool_ and mask.shape == (12, 10)
    assert mask.sum() == int(0.3 * 12 * 10)
    clip = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2)[None]
    expected = foreground_mask(clip.float() / 255, 0.3, hue_mode)[0]
    assert np.array_equal(mask, expected.numpy())
    # The frames are left as they were.
    assert all(np.array_equal(a, b) for a, b in zip(results['imgs'], frames))
    assert 'FAMEMask' in repr(transform) and hue_mode in repr(transform)


def test_fame_mask_transform_after_format_shape():
    transform = TRANSFORMS.build(dict(type='FAMEMask'))
    imgs = np.zeros((1, 3, 4, 8, 8), dtype=np.float32)  # FormatShape output
    with pytest.raises(ValueError, match='FormatShape'):
        transform(dict(imgs=imgs))
    with pytest.raises(ValueError):
        transform(dict(imgs=[np.zeros((8, 8), dtype=np.uint8)]))
    with pytest.raises(ValueError, match='beta'):
        TRANSFORMS.build(dict(type='FAMEMask', beta=0.))


def test_mean_and_std_are_buffers_of_the_preprocessor(monkeypatch):
    # Lists made into tensors per batch: a blocking host-to-device copy.
    preprocessor = ActionDataPreprocessor(
        mean=MEAN,
        std=STD,
        format_shape='NCTHW',
        blending=dict(type='FAMEBlending', mean=MEAN, std=STD))
    buffers = dict(preprocessor.named_buffers())
    assert torch.equal(buffers['blending.mean'],
                       torch.tensor(MEAN).view(1, 3, 1, 1, 1))
    assert torch.equal(buffers['blending.std'],
                       torch.tensor(STD).view(1, 3, 1, 1, 1))
    # Moved with the preprocessor, not saved in checkpoints.
    preprocessor.to(torch.float64)
    assert preprocessor.blending.mean.dtype == torch.float64
    assert not any(k.startswith('blending') for k in preprocessor.state_dict())

    def refused(*args, **kwargs):
        raise AssertionError('a tensor made from host values per batch')

    monkeypatch.setattr(torch.Tensor, 'new_tensor', refused)
    clips = torch.rand(2, 1, 3, 4, 16, 16, dtype=torch.float64)
    out, _ = preprocessor.blending(clips, make_samples(2))
    assert out.shape == clips.shape
