# Copyright (c) OpenMMLab. All rights reserved.
"""Tests of the batched FAME mask extraction and merging.

The reference below is written from the algorithm text of the paper
(``docs/algorithm.md``, *The steps, row by row*), clip by clip, with its
own Gaussian kernel, RGB -> HSV conversion and histograms, independently
of the batched implementation in ``projects.fame.ops``.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from projects.fame.ops import fame as fame_ops
from projects.fame.ops.fame import (blur_kernel_size, colour_bins,
                                    foreground_maps, foreground_mask,
                                    merge_foreground_background, motion_map)

# --------------------------------------------------------------------------
# Per-clip reference, from the paper's algorithm text
# --------------------------------------------------------------------------


def ref_blur(m):
    """Gaussian blur of one (H, W) map: k = int(0.1 S) // 2 * 2 + 1,
    sigma = k / 3, reflect padding, separable 1-D kernel."""
    size = min(m.shape)
    k = int(0.1 * size) // 2 * 2 + 1
    sigma = k / 3
    x = torch.arange(k, dtype=torch.float64) - k // 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    g = (g / g.sum()).float()
    r = k // 2
    out = F.pad(m[None, None], (r, r, r, r), mode='reflect')
    out = F.conv2d(out, g.view(1, 1, 1, k))
    out = F.conv2d(out, g.view(1, 1, k, 1))
    return out[0, 0]


def ref_norm(m):
    shifted = m - m.min()
    return shifted / (shifted.max() + 1e-8)


def ref_rgb_to_hsv(img):
    """(3, H, W) RGB in [0, 1] -> hue in turns [0, 1), saturation, value."""
    r, g, b = img
    v = img.max(0).values
    mn = img.min(0).values
    delta = v - mn
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.zeros_like(v)
    # The first maximal channel decides the sextant (r before g before b).
    is_r = (r >= g) & (r >= b)
    is_g = ~is_r & (g >= b)
    is_b = ~is_r & ~is_g
    h = torch.where(is_r, ((g - b) / safe) % 6, h)
    h = torch.where(is_g, (b - r) / safe + 2, h)
    h = torch.where(is_b, (r - g) / safe + 4, h)
    h = torch.where(delta > 0, h / 6, torch.zeros_like(h)) % 1.0
    s = torch.where(v > 0, delta / torch.where(v > 0, v, torch.ones_like(v)),
                    torch.zeros_like(v))
    return h, s, v


def ref_bins(frame, hue_mode='turns'):
    """Bins 1..1000 of one (3, H, W) frame, spec section 2, step 3."""
    h, s, v = ref_rgb_to_hsv(frame)
    if hue_mode == 'radians':
        # The released code: hue in radians, still multiplied by 2 pi.
        h = h * 2 * math.pi
    hx = (s * torch.cos(2 * math.pi * h) + 1) / 2
    hy = (s * torch.sin(2 * math.pi * h) + 1) / 2
    qh = torch.round(9 * hx + 1).long()
    qs = torch.round(9 * hy + 1).long()
    qv = torch.round(9 * v + 1).long()
    return qh + 10 * (qs - 1) + 100 * (qv - 1)


def ref_maps(clip, hue_mode='turns'):
    """Motion map M0, colour score M1 and seeds of one (3, T, H, W) clip."""
    _, _, height, width = clip.shape
    num_pixels = height * width
    diff = (clip[:, :-1] - clip[:, 1:]).abs().sum(0).mean(0)
    m0 = ref_norm(ref_blur(diff))

    order = torch.sort(m0.flatten(), descending=True).indices
    fg_seeds = order[:int(0.5 * num_pixels)]
    bg_seeds = torch.sort(m0.flatten()).indices[:int(0.1 * num_pixels)]

    bins = ref_bins(clip.mean(1), hue_mode).flatten()
    p_f = torch.bincount(bins[fg_seeds], minlength=1001).float()
    p_f = p_f / p_f.sum()
    p_b = torch.bincount(bins[bg_seeds], minlength=1001).float()
    p_b[1:] += 1  # bins 1..1000; bin 0 never used
    p_b = p_b / p_b.sum()
    r = p_f[bins] / (p_f[bins] + p_b[bins])
    m1 = ref_norm(ref_blur(r.view(height, width)))
    return m0, m1, fg_seeds, bg_seeds


def ref_mask(clip, beta=0.5, hue_mode='turns'):
    _, m1, _, _ = ref_maps(clip, hue_mode)
    k = int(beta * m1.numel())
    top = torch.sort(m1.flatten(), descending=True).indices[:k]
    mask = torch.zeros(m1.numel(), dtype=torch.bool)
    mask[top] = True
    return mask.view_as(m1)


# --------------------------------------------------------------------------
# Test clips
# --------------------------------------------------------------------------


def random_clips(n=3, t=4, h=32, w=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, t, h, w, generator=gen)


def moving_object_clip(size=32,
                       t=4,
                       side=16,
                       step=1,
                       noise=0.,
                       obj_hue=0.,
                       seed=0):
    """A textured red square moving right on a textured blue-green ground.

    The background is static unless ``noise`` adds independent per-frame
    noise of that amplitude (which makes every motion value distinct).
    Returns the (3, T, H, W) clip in [0, 1] and the boolean (H, W) union of
    the object's positions over the clip.
    """
    gen = torch.Generator().manual_seed(seed)
    # Background: random blue-green colours of varied saturation and value,
    # different for every pixel (a texture, many colour bins).
    hue = 0.35 + 0.3 * torch.rand(size, size, generator=gen)
    sat = 0.3 + 0.6 * torch.rand(size, size, generator=gen)
    val = 0.3 + 0.6 * torch.rand(size, size, generator=gen)
    background = hsv_to_rgb(hue, sat, val)
    clip = background[:, None].repeat(1, t, 1, 1)
    clip = clip + noise * torch.rand(clip.shape, generator=gen)
    # Object: saturated red (hue ``obj_hue``) of varied value; its texture
    # moves with it.
    texture = hsv_to_rgb(
        torch.full((side, side), obj_hue), torch.full((side, side), 0.85),
        0.6 + 0.35 * torch.rand(side, side, generator=gen))
    obj = torch.zeros(size, size, dtype=torch.bool)
    top, left = (size - side) // 2, 4
    for i in range(t):
        x0 = left + i * step
        clip[:, i, top:top + side, x0:x0 + side] = texture
        obj[top:top + side, x0:x0 + side] = True
    return clip.clamp(0, 1), obj


def assert_seed_margin(m0, margin=1e-6):
    """Guard of the reference comparisons: the motion values at the seed
    thresholds are not near-ties, so both implementations pick the same
    seeds whatever their tie-breaking."""
    values = torch.sort(m0.flatten(), descending=True).values
    n = values.numel()
    for k in (int(0.5 * n), n - int(0.1 * n)):
        assert values[k - 1] - values[k] > margin


def assert_bin_margin(clip, hue_mode, margin=2e-5):
    """Guard of the reference comparisons: no colour coordinate of the mean
    frame lies within ``margin`` of a rounding boundary of the
    quantisation (``9 * x`` near a half-integer), where float32 rounding
    differences between two correct implementations could pick different
    bins. In radians mode ``cos(2 pi h)`` with h up to 2 pi amplifies such
    differences to about 1e-5."""
    frame = clip.double().mean(1)
    h, s, v = ref_rgb_to_hsv(frame)
    if hue_mode == 'radians':
        h = h * 2 * math.pi
    hx = (s * torch.cos(2 * math.pi * h) + 1) / 2
    hy = (s * torch.sin(2 * math.pi * h) + 1) / 2
    scaled = torch.stack([hx, hy, v]) * 9
    assert ((scaled - scaled.floor()) - 0.5).abs().min() > margin


def hsv_to_rgb(h, s, v):
    """(H, W) hue in turns, saturation, value -> (3, H, W) RGB."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6])
    return v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def iou(a, b):
    return ((a & b).sum() / (a | b).sum()).item()


# --------------------------------------------------------------------------
# Reference self-checks (so that the comparisons below mean something)
# --------------------------------------------------------------------------


def test_reference_helpers():
    assert [blur_kernel_size(s) for s in (32, 40, 112, 224)] == [3, 5, 11, 23]
    # Known HSV values (hue in turns).
    rgb = torch.tensor([[1., 0., 0., 0., .5, .2], [0., 1., 0., 0., .5, .4],
                        [0., 0., 1., 0., .5, .1]]).view(3, 1, 6)
    h, s, v = ref_rgb_to_hsv(rgb)
    torch.testing.assert_close(
        h.flatten(), torch.tensor([0., 1 / 3, 2 / 3, 0., 0., 5 / 18]))
    torch.testing.assert_close(s.flatten(), torch.tensor([1., 1, 1, 0, 0,
                                                          .75]))
    torch.testing.assert_close(v.flatten(), torch.tensor([1., 1, 1, 0, .5,
                                                          .4]))
    # hsv_to_rgb inverts it.
    hh, ss, vv = torch.rand(3, 8, 8)
    torch.testing.assert_close(
        torch.stack(ref_rgb_to_hsv(hsv_to_rgb(hh, ss * 0.9 + 0.1, vv + .1))),
        torch.stack([hh, ss * 0.9 + 0.1, vv + .1]),
        atol=1e-5,
        rtol=0)
    # The blur keeps constants; an impulse gives the normalised kernel
    # (k = 3, sigma = 1 for 32 x 32).
    const = torch.full((32, 32), 0.3)
    torch.testing.assert_close(ref_blur(const), const)
    impulse = torch.zeros(32, 32)
    impulse[10, 20] = 1
    g = torch.exp(-torch.tensor([1., 0., 1.]) / 2)
    g = g / g.sum()
    torch.testing.assert_close(ref_blur(impulse)[9:12, 19:22], g[:, None] * g)
    assert ref_blur(impulse).sum().item() == pytest.approx(1.)


# --------------------------------------------------------------------------
# Batched implementation vs reference
# --------------------------------------------------------------------------


@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
@pytest.mark.parametrize(('size', 'seed'), [(32, 33), (40, 42)])
def test_maps_and_mask_match_reference_random(hue_mode, size, seed):
    clips = random_clips(h=size, w=size, seed=seed)
    motion, score = foreground_maps(clips, hue_mode)
    assert motion.shape == score.shape == (3, size, size)
    masks = foreground_mask(clips, 0.5, hue_mode)
    for i, clip in enumerate(clips):
        m0, m1, _, _ = ref_maps(clip, hue_mode)
        assert_seed_margin(m0)
        assert_bin_margin(clip, hue_mode)
        torch.testing.assert_close(motion[i], m0, atol=1e-5, rtol=0)
        torch.testing.assert_close(score[i], m1, atol=1e-5, rtol=0)
        assert torch.equal(masks[i], ref_mask(clip, 0.5, hue_mode))
        assert torch.equal(motion_map(clips)[i], motion[i])


@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
def test_colour_bins_match_reference_random(hue_mode):
    frames = random_clips(n=2, t=1, seed=3)[:, :, 0]
    bins = colour_bins(frames, hue_mode)
    assert bins.dtype == torch.int64 and bins.shape == (2, 32, 32)
    assert bins.min() >= 0 and bins.max() <= 999
    for i, frame in enumerate(frames):
        assert_bin_margin(frame[:, None], hue_mode)
        # The implementation counts bins from 0, the paper from 1.
        assert torch.equal(bins[i] + 1, ref_bins(frame, hue_mode))


@pytest.mark.parametrize('obj_hue', [0.02, 0.])
@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
def test_maps_and_mask_match_reference_structured(hue_mode, obj_hue):
    # obj_hue=0: a pure red object (g == b, so hy = 0.5 exactly in the mean
    # frame), which the binning must handle as the paper does.
    clips = torch.stack([
        moving_object_clip(noise=0.1, obj_hue=obj_hue, seed=s)[0]
        for s in range(3)
    ])
    motion, score = foreground_maps(clips, hue_mode)
    masks = foreground_mask(clips, 0.2, hue_mode)
    for i, clip in enumerate(clips):
        m0, m1, _, _ = ref_maps(clip, hue_mode)
        assert_seed_margin(m0)
        if obj_hue:
            assert_bin_margin(clip, hue_mode)
        torch.testing.assert_close(motion[i], m0, atol=1e-5, rtol=0)
        torch.testing.assert_close(score[i], m1, atol=1e-5, rtol=0)
        # Blurred scores may tie here; compare the mask where the reference
        # score is not at the threshold.
        k = int(0.2 * m1.numel())
        thr = torch.sort(m1.flatten(), descending=True).values[k - 1]
        clear = (m1 - thr).abs() > 1e-5
        assert torch.equal(masks[i][clear], (m1 > thr)[clear])


def test_colour_bins_grey_and_pure_red_pixels_follow_spec():
    """Exact half-way values of ``9 * hx`` (grey pixels: s = 0, so
    hx = hy = 0.5; pixels with g == b < r: sin(0) = 0, so hy = 0.5) must be
    binned as the paper and the released code do: ``round(9 * x + 1)``, with
    round-half-to-even (``torch.round``). ``round(9 * x)`` is not the same
    partition at these points (4.5 -> 4, but 5.5 -> 6)."""
    grey = torch.tensor([.5, .5, .5])
    # Low-saturation warm colour whose hx and hy levels are the grey
    # level + 1 under the paper's rounding.
    warm = torch.tensor([.52, .51, .50])
    reddish = torch.tensor([.6, .4, .4])  # g == b: hy exactly 0.5
    frame = torch.stack([grey, warm, reddish], dim=1).view(1, 3, 1, 3)
    bins = colour_bins(frame)[0, 0] + 1
    expected = ref_bins(frame[0])[0]
    # The paper's binning puts grey and the warm colour in one bin.
    assert expected[0] == expected[1]
    assert torch.equal(bins, expected), (bins, expected)


@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
def test_foreground_maps_grey_background_match_reference(hue_mode):
    """End to end: a grey background (s = 0 exactly in the mean frame) with
    per-frame grey noise (every motion value distinct, so the seeds are
    unambiguous) and a moving low-saturation warm object. The paper's
    binning puts grey and the object's colour levels differently from
    ``round(9 * x)``; scores and masks must match the reference."""
    size, t = 32, 4
    gen = torch.Generator().manual_seed(0)
    grey = 0.45 + 0.1 * torch.rand(t, size, size, generator=gen)
    clip = grey[None].repeat(3, 1, 1, 1)  # equal channels: grey
    for i in range(t):
        x0 = 4 + 2 * i
        clip[0, i, 8:22, x0:x0 + 14] += 0.02
        clip[1, i, 8:22, x0:x0 + 14] += 0.01
    _, score = foreground_maps(clip[None], hue_mode)
    mask = foreground_mask(clip[None], 0.3, hue_mode)[0]
    m0, m1, _, _ = ref_maps(clip, hue_mode)
    assert_seed_margin(m0)
    torch.testing.assert_close(score[0], m1, atol=1e-5, rtol=0)
    k = int(0.3 * m1.numel())
    thr = torch.sort(m1.flatten(), descending=True).values[k - 1]
    clear = (m1 - thr).abs() > 1e-5
    assert torch.equal(mask[clear], (m1 > thr)[clear])


# --------------------------------------------------------------------------
# Mask properties
# --------------------------------------------------------------------------


@pytest.mark.parametrize('beta', [0.1, 0.5, 1.0, 0.37])
def test_mask_count_dtype_shape(beta):
    clips = random_clips(n=2, t=3, h=24, w=20, seed=1)
    mask = foreground_mask(clips, beta)
    assert mask.dtype == torch.bool
    assert mask.shape == (2, 24, 20)
    assert mask.flatten(1).sum(1).tolist() == [int(beta * 24 * 20)] * 2


def test_mask_batched_equals_per_clip():
    clips = random_clips(n=4, seed=2)
    masks = foreground_mask(clips, 0.4)
    motion, score = foreground_maps(clips)
    for i in range(4):
        single = clips[i:i + 1]
        assert torch.equal(masks[i], foreground_mask(single, 0.4)[0])
        m, s = foreground_maps(single)
        torch.testing.assert_close(motion[i], m[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(score[i], s[0], atol=1e-6, rtol=0)


def test_mask_finds_moving_object():
    ious, random_ious = [], []
    gen = torch.Generator().manual_seed(0)
    for seed in range(3):
        clip, obj = moving_object_clip(seed=seed)
        beta = obj.float().mean().item()
        mask = foreground_mask(clip[None], beta)[0]
        ious.append(iou(mask, obj))
        rand = torch.zeros(obj.numel(), dtype=torch.bool)
        rand[torch.randperm(obj.numel(), generator=gen)[:obj.sum()]] = True
        random_ious.append(iou(rand.view_as(obj), obj))
    assert min(ious) > 0.7, ious
    assert max(random_ious) < 0.3, random_ious
    # The motion map peaks on the moving edges of the object.
    clip, obj = moving_object_clip()
    motion, _ = foreground_maps(clip[None])
    assert obj[motion[0] > 0.5].all()


@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
def test_mask_static_and_single_colour_clips(hue_mode):
    # Static textured clip: no motion at all.
    static = random_clips(n=1, t=1, seed=5).repeat(1, 1, 4, 1, 1)
    # Single colour, static: everything constant.
    flat = torch.full((1, 3, 4, 16, 16), 0.3)
    flat[:, 0] = 0.7
    for clips in (static, flat):
        motion, score = foreground_maps(clips, hue_mode)
        assert torch.isfinite(motion).all() and torch.isfinite(score).all()
        assert motion.min() >= 0 and motion.max() <= 1
        assert score.min() >= 0 and score.max() <= 1
        mask = foreground_mask(clips, 0.3, hue_mode)
        h, w = clips.shape[-2:]
        assert mask.sum() == int(0.3 * h * w)
    assert (foreground_maps(static)[0] == 0).all()
    assert (foreground_maps(flat)[1] == 0).all()


def test_mask_accepts_double_inputs():
    clips = random_clips(n=2, seed=6)
    mask = foreground_mask(clips.double(), 0.5)
    assert torch.equal(mask, foreground_mask(clips, 0.5))


def test_hue_mode_only_changes_hue():
    # Grey clips: zero saturation, the hue does not matter.
    grey = random_clips(n=2, t=4, seed=7)[:, :1].repeat(1, 3, 1, 1, 1)
    for a, b in zip(
            foreground_maps(grey, 'turns'), foreground_maps(grey, 'radians')):
        assert torch.equal(a, b)
    assert torch.equal(
        foreground_mask(grey, 0.5, 'turns'),
        foreground_mask(grey, 0.5, 'radians'))
    # Coloured clips: only the colour bins (and what follows) change.
    clips = random_clips(n=2, seed=8)
    motion_t, score_t = foreground_maps(clips, 'turns')
    motion_r, score_r = foreground_maps(clips, 'radians')
    assert torch.equal(motion_t, motion_r)
    bins_t = colour_bins(clips.mean(2), 'turns')
    bins_r = colour_bins(clips.mean(2), 'radians')
    assert (bins_t != bins_r).float().mean() > 0.2
    # The value level does not depend on the hue.
    assert torch.equal(bins_t // 100, bins_r // 100)
    assert not torch.equal(score_t, score_r)


def test_invalid_arguments():
    clips = random_clips(n=1, t=2, h=8, w=8)
    for beta in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match='beta'):
            foreground_mask(clips, beta)
    for bad in (clips[0], clips[:, :2], torch.rand(1, 4, 2, 8, 8)):
        with pytest.raises(ValueError):
            foreground_mask(bad)
        with pytest.raises(ValueError):
            foreground_maps(bad)
    with pytest.raises(ValueError, match='hue_mode'):
        foreground_mask(clips, hue_mode='degrees')
    with pytest.raises(ValueError, match='hue_mode'):
        colour_bins(clips[:, :, 0], hue_mode='degrees')
    assert fame_ops.HUE_MODES == ('turns', 'radians')


# --------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------


def test_merge_with_given_perm():
    clips = torch.randn(4, 3, 2, 6, 5)
    masks = torch.rand(4, 6, 5) > 0.5
    perm = torch.tensor([2, 0, 3, 1])
    out = merge_foreground_background(clips, masks, perm)
    assert out.shape == clips.shape and out.dtype == clips.dtype
    for i in range(4):
        for c in range(3):
            for t in range(2):
                inside = masks[i]
                assert torch.equal(out[i, c, t][inside], clips[i, c,
                                                               t][inside])
                assert torch.equal(out[i, c, t][~inside], clips[perm[i], c,
                                                                t][~inside])
    # Same as the paper's arithmetic form.
    m = masks[:, None, None].float()
    torch.testing.assert_close(out, m * clips + (1 - m) * clips[perm])


def test_merge_identity_and_single_clip():
    clips = torch.randint(0, 255, (3, 3, 2, 4, 4), dtype=torch.uint8)
    masks = torch.rand(3, 4, 4) > 0.5
    out = merge_foreground_background(clips, masks, torch.arange(3))
    assert out.dtype == torch.uint8
    assert torch.equal(out, clips)
    one = clips[:1]
    for seed in range(3):
        torch.manual_seed(seed)
        assert torch.equal(merge_foreground_background(one, masks[:1]), one)


def test_merge_random_perm_is_a_permutation():
    # Clips with distinct constant values reveal the background source.
    n = 6
    clips = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1, 1)
    clips = clips.expand(n, 3, 2, 4, 4).contiguous()
    masks = torch.zeros(n, 4, 4, dtype=torch.bool)
    masks[:, 0, 0] = True
    torch.manual_seed(0)
    out = merge_foreground_background(clips, masks)
    assert (out[:, :, :, 0, 0] == clips[:, :, :, 0, 0]).all()
    sources = out[:, 0, 0, 1, 1].long()
    assert sorted(sources.tolist()) == list(range(n))
    assert (out[:, :, :, 1:, :] == sources.view(n, 1, 1, 1, 1)).all()
