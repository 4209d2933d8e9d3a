# Copyright (c) OpenMMLab. All rights reserved.
"""Options of FAME that the paper does not have, each off by default.

- ``beta='auto'``: the moving and the static pixels (split at the Otsu
  threshold of the motion map) seed the colour histograms, and the fraction
  is chosen per clip, for actors that do not fill half the frame
  (:func:`adaptive_foreground_maps`);
- camera compensation: the camera's translation between frames is fitted
  on the frame's border and compensated in the motion map
  (:func:`camera_shifts`, :func:`scene_motion_map`);
- the shot-cut guard: :func:`shot_cut_ratio` tells clips whose largest
  frame change stands out, which ``FAMEBlending`` leaves unmerged.

:func:`fame_mask` is the mask with these options; with the defaults it is
the paper's :func:`.fame.foreground_mask`, bit for bit.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import ConfigError
from .fame import (blur, check_beta, check_clips, foreground_maps,
                   foreground_mask, minmax_normalize, motion_map)

# Default bounds of the per-clip seed share and fraction of beta='auto'.
BETA_RANGE = (0.05, 0.5)
# The camera's motion is fitted on the frame's border: the outer quarter of
# each side, where an actor rarely is and the background always shows.
CAMERA_BORDER = 0.25


def top_fraction_mask(scores: Tensor, fractions: Tensor) -> Tensor:
    """Boolean (N, H, W) mask holding the top ``round(fractions[i] * H * W)``
    scores of map ``i`` (at least one): the pixels whose rank in their map
    is below that count."""
    flat = scores.flatten(1)
    counts = (fractions * flat.shape[1]).round().long().clamp_min(1)
    order = flat.argsort(dim=1, descending=True, stable=True)
    positions = torch.arange(flat.shape[1], device=flat.device)
    ranks = torch.empty_like(order).scatter_(1, order,
                                             positions.expand_as(order))
    return (ranks < counts[:, None]).view_as(scores)


def otsu_fraction(maps: Tensor, num_bins: int = 64) -> Tensor:
    """Share of each map's pixels above its Otsu threshold.

    Otsu's threshold splits a map's values, binned into ``num_bins`` levels,
    into the two classes of largest between-class variance. A map with one
    high-scoring region (a foreground) gives that region's share of the
    frame, whatever its size.

    Args:
        maps (Tensor): Maps of shape (N, H, W) with values in [0, 1].
        num_bins (int): Number of levels. Defaults to 64.

    Returns:
        Tensor: Fractions of shape (N, ) in [0, 1).
    """
    flat = maps.flatten(1).float().clamp(0, 1)
    levels = (flat * (num_bins - 1)).round().long()
    hist = torch.zeros(
        flat.shape[0], num_bins,
        device=flat.device).scatter_add_(1, levels, torch.ones_like(flat))
    prob = hist / flat.shape[1]
    values = torch.linspace(0, 1, num_bins, device=flat.device)
    below = prob.cumsum(1)  # weight of the class at or below each level
    below_mean = (prob * values).cumsum(1)
    total_mean = below_mean[:, -1:]
    above = 1 - below
    between = (total_mean * below - below_mean)**2 / (below *
                                                      above).clamp_min(1e-12)
    threshold = between.argmax(1, keepdim=True)
    return above.gather(1, threshold).squeeze(1).clamp_min(0)


def check_beta_range(beta_range: Sequence[float]) -> Tuple[float, float]:
    """Return ``beta_range`` as ``(low, high)`` with 0 < low <= high <= 1.

    Raises:
        ConfigError: Under the key ``beta_range``.
    """
    values = tuple(beta_range)
    if len(values) != 2 or not 0 < values[0] <= values[1] <= 1:
        raise ConfigError(
            'beta_range', f'must be (low, high) with 0 < low <= high <= 1, '
            f'got {beta_range!r} (the bounds of the foreground fraction of '
            "beta='auto')")
    return values


def adaptive_foreground_maps(
        clips: Tensor,
        hue_mode: str = 'turns',
        beta_range: Sequence[float] = BETA_RANGE,
        shifts: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """The maps of :func:`.fame.foreground_maps` with seeds and fraction
    per clip (``beta='auto'``), for actors of any size.

    The paper seeds the foreground with the 50 % most moving pixels and the
    background with the 10 % least moving ones. Around an actor smaller than
    half the frame, a still camera leaves most of the frame without motion:
    the top 50 % is then mostly background, chosen by tie-breaking, and the
    foreground histogram learns the background's colours. Here the Otsu
    threshold of the clip's motion map splits the frame instead: the moving
    pixels seed the foreground histogram and every static pixel the
    background one, so that a colour seen in the static scene scores as
    background. The foreground fraction is the share of pixels above the
    Otsu threshold of the resulting colour score (:func:`otsu_fraction`).
    The seed share and the fraction are clamped to ``beta_range``.

    Args:
        clips (Tensor): RGB clips of shape (N, 3, T, H, W) in [0, 1].
        hue_mode (str): See :func:`.fame.colour_bins`. Defaults to
            ``'turns'``.
        beta_range (Sequence[float]): Bounds ``(low, high)`` of the seed
            share and of the fraction. Defaults to ``(0.05, 0.5)``.
        shifts (Tensor, optional): The camera's motion to compensate
            (:func:`scene_motion_map`). Defaults to None.

    Returns:
        Tuple[Tensor, Tensor, Tensor]: Motion maps and colour scores, each
        of shape (N, H, W) in [0, 1], and the fractions, shape (N, ).
    """
    low, high = check_beta_range(beta_range)
    clips = check_clips(clips).float()
    motion = scene_motion_map(clips, shifts)
    moving = top_fraction_mask(motion, otsu_fraction(motion).clamp(low, high))
    moving = moving.flatten(1)
    motion, score = foreground_maps(clips, hue_mode, motion, moving, ~moving)
    return motion, score, otsu_fraction(score).clamp(low, high)


def _sample_shifted(frames: Tensor, shifts: Tensor) -> Tuple[Tensor, Tensor]:
    """Frames (M, C, H, W) sampled at ``x + shifts`` (M, 2), in pixels
    ``(dx, dy)``, bilinearly; and where that lies inside the frame,
    (M, 1, H, W) floats."""
    height, width = frames.shape[-2:]
    ys = torch.arange(height, device=frames.device, dtype=frames.dtype)
    xs = torch.arange(width, device=frames.device, dtype=frames.dtype)
    ys, xs = torch.meshgrid(ys, xs, indexing='ij')
    xs = xs + shifts[:, 0, None, None]
    ys = ys + shifts[:, 1, None, None]
    # Pixel centres to grid_sample's [-1, 1] (align_corners=True).
    grid = torch.stack([xs * 2 / (width - 1) - 1, ys * 2 / (height - 1) - 1],
                       -1)
    shifted = F.grid_sample(
        frames, grid, padding_mode='border', align_corners=True)
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    return shifted, inside.unsqueeze(1).to(frames.dtype)


def camera_shifts(clips: Tensor, num_iters: int = 5) -> Tensor:
    """The camera's translation between consecutive frames of each clip.

    A robust Lucas-Kanade fit of one translation per pair of frames, coarse
    to fine over up to three scales (none below 8 pixels), on the grey
    frames' border (the outer ``CAMERA_BORDER`` of each side). Pixels that
    disagree with the fit, such as an actor crossing the border, are
    down-weighted
    (Huber weights scaled by the median residual), so that a pan or a
    shaking camera gives the motion of the scene. A clip whose shifts do not
    explain its border's frame differences better than a still camera (the
    summed absolute difference on the border, frames aligned, is not below
    that of the frames as they are) gets zero shifts: on a still camera the
    fit can follow an actor that crosses the border.

    Args:
        clips (Tensor): RGB clips of shape (N, 3, T, H, W) in [0, 1], T >= 2.
        num_iters (int): Gauss-Newton steps per pyramid level. Defaults
            to 5.

    Returns:
        Tensor: Shifts ``(dx, dy)`` in pixels of shape (N, T - 1, 2): frame
        ``t + 1`` at ``x + shift`` shows what frame ``t`` shows at ``x``.
    """
    num, _, length, height, width = clips.shape
    grey = clips.float().mean(1)
    prev = grey[:, :-1].reshape(-1, 1, height, width)
    next_ = grey[:, 1:].reshape(-1, 1, height, width)
    border = torch.ones(height, width, device=clips.device)
    top, left = int(CAMERA_BORDER * height), int(CAMERA_BORDER * width)
    border[top:height - top, left:width - left] = 0
    # Up to three scales, halving, none below 8 pixels.
    num_levels = min(3, 1 + int(math.log2(max(min(height, width) // 8, 1))))
    shifts = prev.new_zeros(prev.shape[0], 2)
    for level in reversed(range(num_levels)):
        scale = 2**level
        if scale > 1:
            prev_l, next_l = (F.avg_pool2d(f, scale) for f in (prev, next_))
            border_l = F.avg_pool2d(border[None, None], scale)
        else:
            prev_l, next_l, border_l = prev, next_, border[None, None]
        shifts = shifts / scale
        for _ in range(num_iters):
            warped, inside = _sample_shifted(next_l, shifts)
            residual = warped - prev_l
            padded = F.pad(warped, (1, 1, 1, 1), mode='replicate')
            grad_x = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
            grad_y = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
            # Huber weights, the threshold 2.2 robust standard deviations
            # (1.4826 x 1.5 median absolute residuals).
            spread = residual.abs().flatten(1).median(1).values
            huber = (2.2 * spread + 1e-3).view(-1, 1, 1, 1)
            robust = (huber / residual.abs().clamp_min(1e-6)).clamp(max=1.)
            weight = inside * border_l * robust

            def total(a: Tensor, b: Tensor) -> Tensor:
                return (weight * a * b).sum((1, 2, 3))

            # The 2 x 2 normal equations of the step, damped for textureless
            # borders (no gradient: no step).
            gxx, gyy = total(grad_x, grad_x), total(grad_y, grad_y)
            damp = 1e-6 * (gxx + gyy) + 1e-8
            gxx, gyy = gxx + damp, gyy + damp
            gxy = total(grad_x, grad_y)
            gxr, gyr = total(grad_x, residual), total(grad_y, residual)
            det = gxx * gyy - gxy**2
            step = torch.stack([(gxy * gyr - gyy * gxr) / det,
                                (gxy * gxr - gxx * gyr) / det], 1)
            shifts = shifts + step.clamp(-2, 2)
        shifts = shifts * scale
    warped, inside = _sample_shifted(next_, shifts)
    weight = (inside * border).view(num, -1)
    aligned = ((warped - prev).abs().view(num, -1) * weight).sum(1)
    still = ((next_ - prev).abs().view(num, -1) * weight).sum(1)
    return shifts.view(num, length - 1, 2) * (aligned < still)[:, None, None]


def scene_motion_map(clips: Tensor, shifts: Optional[Tensor] = None) -> Tensor:
    """The motion map, the camera's motion compensated.

    Each frame is compared with the next one moved back by the camera's
    shift, so a pan or a shake leaves the scene still and only what moves
    in it shows (pixels that came into view count as still).

    Args:
        clips (Tensor): RGB clips of shape (N, C, T, H, W) in [0, 1].
        shifts (Tensor, optional): (N, T - 1, 2) from
            :func:`camera_shifts`. Defaults to None: the paper's
            :func:`.fame.motion_map`.

    Returns:
        Tensor: Motion maps of shape (N, H, W) in [0, 1].
    """
    if shifts is None:
        return motion_map(clips)
    following = clips[:, :, 1:]
    num, channels, steps, height, width = following.shape
    frames = following.transpose(1, 2).reshape(-1, channels, height, width)
    aligned, inside = _sample_shifted(frames, shifts.reshape(-1, 2))
    aligned = aligned.view(num, steps, channels, height, width).transpose(1, 2)
    diff = (clips[:, :, :-1] - aligned).abs().sum(1)
    diff = diff * inside.view(num, steps, height, width)
    return minmax_normalize(blur(diff.mean(1)))


def shot_cut_ratio(clips: Tensor) -> Tensor:
    """How much a clip's largest frame change stands out, per clip.

    The mean absolute difference of each pair of consecutive frames; the
    ratio of the largest to the median. A shot cut inside the clip changes
    the whole frame at one step (ratios of 8-13 on the cut clips of
    ``docs/algorithm.md``, at most 5 on the others).

    Args:
        clips (Tensor): RGB clips of shape (N, C, T, H, W), T >= 2.

    Returns:
        Tensor: Ratios of shape (N, ), at least 1.
    """
    steps = (clips[:, :, 1:] - clips[:, :, :-1]).abs().mean((1, 3, 4))
    return steps.amax(1) / steps.median(1).values.clamp_min(1e-4)


def fame_mask(clips: Tensor,
              beta: Union[float, str] = 0.5,
              hue_mode: str = 'turns',
              beta_range: Sequence[float] = BETA_RANGE,
              shifts: Optional[Tensor] = None) -> Tensor:
    """FAME's binary foreground masks, with the options of this module.

    Args:
        clips (Tensor): RGB clips of shape (N, 3, T, H, W) in [0, 1].
        beta (float | str): Fraction of pixels marked as foreground, in
            (0, 1], or ``'auto'``: seeds and a fraction per clip, from
            :func:`adaptive_foreground_maps` within ``beta_range``.
            Defaults to 0.5.
        hue_mode (str): See :func:`.fame.colour_bins`. Defaults to
            ``'turns'``.
        beta_range (Sequence[float]): Bounds of ``beta='auto'``; unused
            otherwise. Defaults to ``(0.05, 0.5)``.
        shifts (Tensor, optional): The camera's motion between consecutive
            frames, (N, T - 1, 2) from :func:`camera_shifts`, compensated in
            the motion map. Defaults to None (the paper).

    Returns:
        Tensor: Boolean masks of shape (N, H, W), shared by all frames, with
        exactly ``int(beta * H * W)`` True entries each, or for
        ``beta='auto'`` ``round(fraction * H * W)`` (at least one).
    """
    if check_beta(beta) == 'auto':
        _, score, fractions = adaptive_foreground_maps(clips, hue_mode,
                                                       beta_range, shifts)
        return top_fraction_mask(score, fractions)
    motion = None if shifts is None else scene_motion_map(
        check_clips(clips).float(), shifts)
    return foreground_mask(clips, beta, hue_mode, motion)
