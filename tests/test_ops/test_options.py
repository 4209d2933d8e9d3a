# Copyright (c) OpenMMLab. All rights reserved.
"""Per-clip options of FAME: ``beta='auto'`` (foreground seeds and fraction
from Otsu thresholds of the motion map and of the colour score, bounded by
``beta_range``), the shot-cut guard (``max_cut_ratio``) and the camera
compensation (``compensate_camera``)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS, TRANSFORMS
from mmengine.registry import init_default_scope

import projects.fame  # noqa: F401
from projects.fame.ops import (adaptive_foreground_maps, camera_shifts,
                               fame_mask, foreground_maps, foreground_mask,
                               motion_map, otsu_fraction, scene_motion_map,
                               shot_cut_ratio)
from projects.fame.ops.options import top_fraction_mask
from projects.fame.utils import ConfigError


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


def two_level_map(size: int,
                  side: int,
                  high: float = 0.9,
                  low: float = 0.1,
                  noise: float = 0.) -> torch.Tensor:
    """A (size, size) map: a square of ``side`` at ``high``, ``low`` around,
    plus uniform noise of amplitude ``noise``."""
    gen = torch.Generator().manual_seed(side)
    values = torch.full((size, size), low)
    values[2:2 + side, 3:3 + side] = high
    values += noise * (2 * torch.rand(size, size, generator=gen) - 1)
    return values.clamp(0, 1)


def square_clip(size: int = 32, side: int = 8, t: int = 4) -> tuple:
    """A red square moving right over a static grey-green texture."""
    gen = torch.Generator().manual_seed(side)
    ground = torch.rand(size, size, generator=gen) * 0.2 + 0.4
    clip = torch.stack([ground * 0.5, ground, ground * 0.8]).unsqueeze(1)
    clip = clip.repeat(1, t, 1, 1).clone()
    union = torch.zeros(size, size, dtype=torch.bool)
    for i in range(t):
        x = 2 + 2 * i
        clip[:, i, 4:4 + side, x:x + side] = torch.tensor([0.9, 0.1,
                                                           0.1]).view(3, 1, 1)
        union[4:4 + side, x:x + side] = True
    return clip, union


@pytest.mark.parametrize('side', [4, 10, 20])
def test_otsu_fraction_of_a_two_level_map_is_its_area(side):
    for noise in (0., 0.05):
        maps = two_level_map(40, side, noise=noise)[None]
        assert otsu_fraction(maps).item() == pytest.approx(
            side * side / 1600, abs=1e-6)


def test_otsu_fraction_batched_equals_per_map():
    maps = torch.stack([two_level_map(40, s, noise=0.05) for s in (4, 12, 30)])
    batched = otsu_fraction(maps)
    assert batched.shape == (3, )
    for i, value in enumerate(batched):
        assert value == otsu_fraction(maps[i:i + 1])[0]


def test_fraction_is_the_scores_otsu_share_within_the_bounds():
    clips = torch.stack([square_clip(side=s)[0] for s in (2, 6, 14, 20)])
    for beta_range in ((0.05, 0.5), (0.1, 0.2)):
        _, score, fractions = adaptive_foreground_maps(
            clips, beta_range=beta_range)
        assert torch.equal(fractions, otsu_fraction(score).clamp(*beta_range))
    # (0.1, 0.2) binds both ways: the smallest squares below, the largest
    # above; the 14-pixel square (about 0.16 of the frame) is free.
    assert fractions[:2].tolist() == pytest.approx([0.1, 0.1])
    assert 0.1 < fractions[2] < 0.2
    assert fractions[3].item() == pytest.approx(0.2)
    # The actor's size shows: the fraction grows with the square.
    _, _, free = adaptive_foreground_maps(clips, beta_range=(0.01, 1.))
    assert free.tolist() == sorted(free.tolist())
    assert free[0] < 0.05 and free[3] > 0.2


def test_seeds_at_half_the_frame_are_the_papers_seeds():
    """Seeds at a share of 0.5 are the paper's top 50 % seeds."""
    gen = torch.Generator().manual_seed(1)
    clips = torch.rand(3, 3, 4, 16, 16, generator=gen)
    motion, score = foreground_maps(clips)
    seeds = top_fraction_mask(motion, torch.full((3, ), 0.5)).flatten(1)
    pinned_motion, pinned = foreground_maps(clips, fg_seeds=seeds)
    assert torch.equal(motion, pinned_motion)
    torch.testing.assert_close(pinned, score, atol=1e-6, rtol=0)


def test_auto_mask_counts_follow_each_clips_fraction():
    clips = torch.stack([square_clip(side=s)[0] for s in (4, 8, 14)])
    masks = fame_mask(clips, 'auto')
    _, score, fractions = adaptive_foreground_maps(clips)
    expected = (fractions * 32 * 32).round().long()
    assert masks.dtype == torch.bool and masks.shape == (3, 32, 32)
    assert masks.flatten(1).sum(1).tolist() == expected.tolist()
    assert len(set(expected.tolist())) == 3  # one fraction per clip
    # The pixels kept are the top-scoring ones of their clip.
    for mask, s in zip(masks, score):
        assert s[mask].min() >= s[~mask].max()
    for i in range(3):
        assert torch.equal(masks[i], fame_mask(clips[i:i + 1], 'auto')[0])


def test_auto_mask_fits_a_small_actor_better_than_half_the_frame():
    clip, union = square_clip(side=6)

    def iou(mask):
        return ((mask & union).sum() / (mask | union).sum()).item()

    auto = fame_mask(clip[None], 'auto')[0]
    fixed = fame_mask(clip[None], 0.5)[0]
    assert iou(auto) > 2 * iou(fixed)
    assert (auto & union).sum() >= 0.8 * union.sum()  # recall
    assert auto.sum() <= 2 * union.sum()  # area: little besides the mover


def test_beta_range_leaves_a_fixed_beta_alone():
    gen = torch.Generator().manual_seed(0)
    clips = torch.rand(2, 3, 4, 24, 24, generator=gen)
    narrow = fame_mask(clips, 0.5, 'turns', (0.1, 0.2))
    assert torch.equal(foreground_mask(clips, 0.5), narrow)


@pytest.mark.parametrize('beta,beta_range,key', [
    ('Auto', (0.05, 0.5), 'beta'),
    ('half', (0.05, 0.5), 'beta'),
    ('auto', (0.6, 0.5), 'beta_range'),
    ('auto', (0., 0.5), 'beta_range'),
    ('auto', (0.1, ), 'beta_range'),
    ('auto', (0.1, 1.5), 'beta_range'),
])
def test_invalid_auto_settings_name_the_key(beta, beta_range, key):
    clips = torch.rand(1, 3, 2, 8, 8)
    with pytest.raises(ConfigError, match=key):
        fame_mask(clips, beta, beta_range=beta_range)
    with pytest.raises(ConfigError, match=key):
        MODELS.build(
            dict(type='FAMEBlending', beta=beta, beta_range=beta_range))
    with pytest.raises(ConfigError, match=key):
        TRANSFORMS.build(
            dict(type='FAMEMask', beta=beta, beta_range=beta_range))


def test_blending_and_transform_use_the_auto_fraction():
    clips = torch.stack([square_clip(side=s)[0] for s in (4, 8, 14)])
    blending = MODELS.build(
        dict(type='FAMEBlending', beta='auto', beta_range=(0.05, 0.4)))
    masks = fame_mask(clips, 'auto', beta_range=(0.05, 0.4))
    torch.manual_seed(0)
    merged = blending.merge(clips)
    torch.manual_seed(0)
    perm = torch.randperm(3)
    expected = torch.where(masks[:, None, None], clips, clips[perm])
    assert torch.equal(merged, expected)

    transform = TRANSFORMS.build(
        dict(type='FAMEMask', beta='auto', beta_range=(0.05, 0.4)))
    frames = (clips[1] * 255).round().byte().permute(1, 2, 3, 0).numpy()
    out = transform(dict(imgs=list(frames)))['fame_mask']
    pixels = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].float() / 255
    assert (out == fame_mask(pixels, 'auto',
                             beta_range=(0.05, 0.4))[0].numpy()).all()
    assert "beta='auto'" in repr(transform)


def cut_clip(size: int = 32, t: int = 8, cut: int = 5) -> torch.Tensor:
    """A moving square whose background changes shot at frame ``cut``."""
    clip, _ = square_clip(size=size, t=t)
    gen = torch.Generator().manual_seed(7)
    other = torch.rand(3, 1, size, size, generator=gen)
    clip[:, cut:] = other
    return clip


def test_shot_cut_ratio_stands_out_at_a_cut():
    still, _ = square_clip(t=8)
    ratios = shot_cut_ratio(torch.stack([still, cut_clip()]))
    assert ratios[0] < 2 and ratios[1] > 20
    # A clip changing by the same amount at every step has ratio 1.
    ramp = torch.linspace(0, 1, 8).view(1, 1, 8, 1, 1).expand(1, 3, 8, 4, 4)
    assert shot_cut_ratio(ramp).item() == pytest.approx(1.)


def test_cut_clips_are_left_unmerged_and_counted():
    still = [square_clip(t=8, side=s)[0] for s in (6, 10)]
    clips = torch.stack([still[0], cut_clip(), still[1]])
    blending = MODELS.build(dict(type='FAMEBlending', max_cut_ratio=6.))
    torch.manual_seed(0)
    merged = blending.merge(clips)
    assert torch.equal(merged[1], clips[1])
    assert blending.num_cuts_unmerged.item() == 1
    # The others merged exactly as without the guard.
    torch.manual_seed(0)
    plain = MODELS.build(dict(type='FAMEBlending')).merge(clips)
    assert torch.equal(merged[[0, 2]], plain[[0, 2]])
    with pytest.raises(ConfigError, match='max_cut_ratio'):
        MODELS.build(dict(type='FAMEBlending', max_cut_ratio=1.))


def panned_clip(step=(1, 0), size=32, t=8, seed=3) -> tuple:
    """A red square moving right by a pixel a frame, in the middle of a
    smooth textured scene that the camera pans by ``step`` whole pixels a
    frame; and the square's union over the clip (frame coordinates)."""
    gen = torch.Generator().manual_seed(seed)
    margin = t * max(map(abs, step)) + 1
    scene = F.avg_pool2d(
        torch.rand(1, 3, size + 2 * margin, size + 2 * margin, generator=gen),
        3, 1, 1)[0]
    clip = torch.empty(3, t, size, size)
    union = torch.zeros(size, size, dtype=torch.bool)
    red = torch.tensor([0.9, 0.1, 0.1]).view(3, 1, 1)
    for i in range(t):
        top, left = margin + i * step[1], margin + i * step[0]
        clip[:, i] = scene[:, top:top + size, left:left + size]
        # Inside the middle half of the frame, away from the fitted border.
        clip[:, i, 12:20, 9 + i:17 + i] = red
        union[12:20, 9 + i:17 + i] = True
    return clip, union


@pytest.mark.parametrize('step', [(1, 0), (0, -1), (2, 1)])
def test_camera_shifts_recover_a_pan(step):
    clip, _ = panned_clip(step)
    shifts = camera_shifts(clip[None])
    assert shifts.shape == (1, 7, 2)
    expected = -torch.tensor(step, dtype=torch.float32).expand(7, 2)
    assert torch.allclose(shifts[0], expected, atol=0.05)


def test_still_camera_gets_no_shift():
    still, _ = panned_clip((0, 0))
    assert torch.equal(camera_shifts(still[None]), torch.zeros(1, 7, 2))
    # Frames moved by zero: the paper's motion map, exactly.
    clips = torch.stack([still, panned_clip((1, 0))[0]])
    assert torch.equal(
        scene_motion_map(clips, torch.zeros(2, 7, 2)), motion_map(clips))


def test_camera_shifts_batched_equal_per_clip():
    clips = torch.stack(
        [panned_clip(step)[0] for step in ((1, 0), (0, 0), (0, -1))])
    batched = camera_shifts(clips)
    for i in range(3):
        assert torch.allclose(
            batched[i], camera_shifts(clips[i:i + 1])[0], atol=1e-5)


def motion_share(motion: torch.Tensor, region: torch.Tensor) -> float:
    return (motion[region].sum() / motion.sum()).item()


def test_compensated_motion_and_mask_follow_the_object_not_the_pan():
    clip, square = panned_clip((1, 0))
    clips = clip[None]
    shifts = camera_shifts(clips)
    # The pan moves every edge of the scene: most of the frame difference
    # lies outside the square; compensated, nearly all of it is the square.
    assert motion_share(motion_map(clips)[0], square) < 0.4
    assert motion_share(scene_motion_map(clips, shifts)[0], square) > 0.8

    def recall_and_iou(mask):
        inter = (mask & square).sum()
        return (inter / square.sum()).item(), (inter /
                                               (mask | square).sum()).item()

    # Uncompensated, the fixed mask keeps about half of the square (a
    # random mask's share) and the adaptive one spreads over the scene;
    # compensated, both keep most of it, and the adaptive one little else.
    for beta, max_recall, min_iou_c in ((0.5, 0.65, 0.15), ('auto', 0.75,
                                                            0.8)):
        recall, iou = recall_and_iou(fame_mask(clips, beta)[0])
        recall_c, iou_c = recall_and_iou(
            fame_mask(clips, beta, shifts=shifts)[0])
        assert recall < max_recall and recall_c > 0.75
        assert iou < 0.2 and iou_c > max(iou + 0.05, min_iou_c)


def test_camera_compensated_clips_are_counted():
    clips = torch.stack([panned_clip(s)[0] for s in ((0, 0), (1, 0))])
    blending = MODELS.build(dict(type='FAMEBlending', compensate_camera=True))
    torch.manual_seed(0)
    merged = blending.merge(clips)
    assert blending.num_camera_compensated.item() == 1
    # The still clip's mask, and so its merge, as without compensation.
    plain = MODELS.build(dict(type='FAMEBlending'))
    torch.manual_seed(0)
    expected = plain.merge(clips)
    assert plain.num_camera_compensated is None
    assert torch.equal(merged[0], expected[0])


def test_fame_mask_transform_compensates_the_camera():
    clip, _ = panned_clip((1, 0))
    frames = [(f * 255).round().byte().numpy()
              for f in clip.permute(1, 2, 3, 0)]
    transform = TRANSFORMS.build(
        dict(type='FAMEMask', beta='auto', compensate_camera=True))
    mask = transform(dict(imgs=frames))['fame_mask']
    pixels = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2)[None]
    pixels = pixels.float() / 255
    expected = fame_mask(pixels, 'auto', shifts=camera_shifts(pixels))
    assert np.array_equal(mask, expected[0].numpy())
    assert not np.array_equal(mask, fame_mask(pixels, 'auto')[0].numpy())
    assert 'compensate_camera=True' in repr(transform)
