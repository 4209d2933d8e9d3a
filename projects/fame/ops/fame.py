# Copyright (c) OpenMMLab. All rights reserved.
"""Foreground-background merging (FAME), as plain batched tensor code.

Ding et al., "Motion-aware Contrastive Video Representation Learning via
Foreground-background Merging", CVPR 2022 (https://arxiv.org/abs/2109.15130).

The foreground of a clip is found without detector or optical flow: frame
differences pick seed pixels (the most and the least moving ones), a colour
histogram of each seed set gives a per-pixel foreground likelihood, and the
``beta`` fraction of pixels with the highest (blurred) likelihood forms a
binary mask shared by all frames. The foreground is then pasted onto the
background of another clip of the batch.

Everything here works on whole batches ``(N, C, T, H, W)`` of RGB clips with
values in ``[0, 1]``, on any device, without Python loops or host syncs.
The options the paper does not have are in :mod:`.options`.
"""
import math
from typing import Optional, Tuple, Union

import torch
from kornia.color import rgb_to_hsv
from kornia.filters import gaussian_blur2d
from torch import Tensor

from ..utils import ConfigError

HUE_MODES = ('turns', 'radians')
# Seed fractions of the reference; fixed, independent of ``beta``.
FOREGROUND_SEED_RATIO = 0.5
BACKGROUND_SEED_RATIO = 0.1
NUM_LEVELS = 10  # quantisation levels per colour axis
NUM_BINS = NUM_LEVELS**3


def blur_kernel_size(crop_size: int) -> int:
    """Odd Gaussian kernel size used by FAME for a crop of ``crop_size``."""
    return int(0.1 * crop_size) // 2 * 2 + 1


def blur(maps: Tensor) -> Tensor:
    """Gaussian-blur (N, H, W) maps with FAME's kernel and reflect padding."""
    k = blur_kernel_size(min(maps.shape[-2:]))
    return gaussian_blur2d(
        maps.unsqueeze(1), (k, k), (k / 3, k / 3),
        border_type='reflect').squeeze(1)


def minmax_normalize(maps: Tensor) -> Tensor:
    """Per-map min-max normalisation of (N, H, W) maps to [0, 1]."""
    flat = maps.flatten(1)
    shifted = flat - flat.amin(1, keepdim=True)
    return (shifted / (shifted.amax(1, keepdim=True) + 1e-8)).view_as(maps)


def check_clips(clips: Tensor) -> Tensor:
    """Return ``clips`` if they are a batch of RGB clips (N, 3, T, H, W)."""
    if clips.dim() != 5 or clips.shape[1] != 3:
        raise ValueError('FAME expects RGB clips of shape (N, 3, T, H, W), '
                         f'got {tuple(clips.shape)}')
    return clips


def motion_map(clips: Tensor) -> Tensor:
    """Normalised, blurred mean absolute frame difference.

    Args:
        clips (Tensor): RGB clips of shape (N, C, T, H, W) in [0, 1].

    Returns:
        Tensor: Motion maps of shape (N, H, W) in [0, 1].
    """
    diff = (clips[:, :, :-1] - clips[:, :, 1:]).abs().sum(1).mean(1)
    return minmax_normalize(blur(diff))


def colour_bins(frames: Tensor, hue_mode: str = 'turns') -> Tensor:
    """Quantise RGB frames into FAME's 1000 hue-saturation-value bins.

    Hue and saturation are placed on a disc (polar to cartesian), so that
    hues near 0 and 1 turn fall into neighbouring bins.

    Args:
        frames (Tensor): RGB frames of shape (N, 3, H, W) in [0, 1].
        hue_mode (str): ``'turns'`` (the paper: hue in [0, 1) turns) or
            ``'radians'`` (the released code: hue in radians fed to
            ``cos(2 * pi * h)``, which aliases hues onto wrong bins).

    Returns:
        Tensor: Bin indices of shape (N, H, W), int64 in [0, 999].
    """
    if hue_mode not in HUE_MODES:
        raise ValueError(f'hue_mode must be one of {HUE_MODES}, '
                         f'got {hue_mode!r}')
    hue, sat, val = rgb_to_hsv(frames).unbind(1)  # hue in radians
    if hue_mode == 'turns':
        hue = hue / (2 * math.pi)
    angle = 2 * math.pi * hue
    hx = (sat * torch.cos(angle) + 1) / 2
    hy = (sat * torch.sin(angle) + 1) / 2
    # Levels round(9 * c + 1) in 1..10 as in the paper, shifted to 0..9.
    # Not round(9 * c): round-half-to-even differs at half-integers, which
    # every grey pixel (hx = hy = 0.5) hits.
    qh, qs, qv = (
        torch.round((NUM_LEVELS - 1) * c + 1).long() - 1
        for c in (hx, hy, val))
    return qh + NUM_LEVELS * qs + NUM_LEVELS**2 * qv


def _seed_histogram(bins: Tensor, seeds: Tensor, prior: float) -> Tensor:
    """Normalised colour histograms (N, NUM_BINS) of the seed pixels.

    ``seeds`` holds the flat indices of each map's seeds (N, K), or is a
    boolean (N, H * W) selection of them.
    """
    bins = bins.flatten(1)
    if seeds.dtype == torch.bool:
        weights = seeds.to(torch.float32)
    else:
        bins = bins.gather(1, seeds)
        weights = torch.ones_like(bins, dtype=torch.float32)
    hist = torch.full((bins.shape[0], NUM_BINS),
                      prior,
                      dtype=torch.float32,
                      device=bins.device)
    hist.scatter_add_(1, bins, weights)
    return hist / hist.sum(1, keepdim=True)


def foreground_maps(
        clips: Tensor,
        hue_mode: str = 'turns',
        motion: Optional[Tensor] = None,
        fg_seeds: Optional[Tensor] = None,
        bg_seeds: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Motion map and colour foreground score of each clip.

    Motion only picks the seeds: the top 50 % most moving pixels are
    foreground seeds, the 10 % least moving are background seeds. The score
    of a pixel is ``P_F(b) / (P_F(b) + P_B(b))`` of its colour bin ``b``,
    blurred and min-max normalised.

    Args:
        clips (Tensor): RGB clips of shape (N, 3, T, H, W) in [0, 1].
        hue_mode (str): See :func:`colour_bins`. Defaults to ``'turns'``.
        motion (Tensor, optional): The motion maps (N, H, W) to seed from.
            Defaults to None: :func:`motion_map` of the clips (the paper).
        fg_seeds (Tensor, optional): Boolean foreground seeds (N, H * W).
            Defaults to None: the top 50 % of the motion map (the paper).
        bg_seeds (Tensor, optional): Boolean background seeds (N, H * W).
            Defaults to None: the bottom 10 % of the motion map (the paper).

    Returns:
        Tuple[Tensor, Tensor]: Motion maps and colour scores, each of shape
        (N, H, W) in [0, 1].
    """
    clips = check_clips(clips).float()
    num_pixels = clips.shape[-2] * clips.shape[-1]
    if motion is None:
        motion = motion_map(clips)
    order = motion.flatten(1).argsort(dim=1, descending=True)
    if fg_seeds is None:
        fg_seeds = order[:, :int(FOREGROUND_SEED_RATIO * num_pixels)]
    if bg_seeds is None:
        bg_seeds = order[:,
                         num_pixels - int(BACKGROUND_SEED_RATIO * num_pixels):]

    bins = colour_bins(clips.mean(2), hue_mode)
    p_fg = _seed_histogram(bins, fg_seeds, prior=0.)
    p_bg = _seed_histogram(bins, bg_seeds, prior=1.)
    flat_bins = bins.flatten(1)
    fg = p_fg.gather(1, flat_bins)
    score = fg / (fg + p_bg.gather(1, flat_bins))
    return motion, minmax_normalize(blur(score.view_as(bins)))


def check_beta(beta: Union[float, str]) -> Union[float, str]:
    """Return ``beta`` if it is a foreground fraction in (0, 1] or ``'auto'``
    (:func:`.options.fame_mask`).

    Raises:
        ConfigError: Under the key ``beta``.
    """
    if beta == 'auto':
        return beta
    if isinstance(beta, str) or not 0 < beta <= 1:
        raise ConfigError(
            'beta', f"must be in (0, 1] or 'auto', got {beta!r} (the "
            'fraction of each frame kept as foreground)')
    return beta


def top_k_mask(scores: Tensor, k: int) -> Tensor:
    """Boolean (N, H, W) mask with exactly ``k`` True at the top scores."""
    flat = scores.flatten(1)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask.scatter_(1, flat.topk(k, dim=1).indices, True)
    return mask.view_as(scores)


def foreground_mask(clips: Tensor,
                    beta: float = 0.5,
                    hue_mode: str = 'turns',
                    motion: Optional[Tensor] = None) -> Tensor:
    """Binary foreground masks of a batch of clips.

    Args:
        clips (Tensor): RGB clips of shape (N, 3, T, H, W) in [0, 1].
        beta (float): Fraction of pixels marked as foreground, in (0, 1].
            Defaults to 0.5.
        hue_mode (str): See :func:`colour_bins`. Defaults to ``'turns'``.
        motion (Tensor, optional): See :func:`foreground_maps`. Defaults to
            None (the paper).

    Returns:
        Tensor: Boolean masks of shape (N, H, W), shared by all frames, with
        exactly ``int(beta * H * W)`` True entries each.
    """
    if check_beta(beta) == 'auto':
        raise ValueError("beta='auto' is an option: use options.fame_mask")
    _, score = foreground_maps(clips, hue_mode, motion)
    return top_k_mask(score, int(beta * score.shape[-2] * score.shape[-1]))


def merge_foreground_background(clips: Tensor,
                                masks: Tensor,
                                perm: Optional[Tensor] = None) -> Tensor:
    """Paste the foreground of each clip onto another clip's background.

    ``out[i] = masks[i] * clips[i] + (1 - masks[i]) * clips[perm[i]]``, the
    mask broadcast over channels and time. ``perm`` may map a clip to itself.

    Args:
        clips (Tensor): Clips of shape (N, C, T, H, W), any value range.
        masks (Tensor): Boolean foreground masks of shape (N, H, W).
        perm (Tensor, optional): Background source index of each clip, a
            permutation of ``range(N)``. Defaults to a random permutation.

    Returns:
        Tensor: Merged clips, same shape and dtype as ``clips``.
    """
    if perm is None:
        perm = torch.randperm(clips.shape[0], device=clips.device)
    return torch.where(masks[:, None, None], clips, clips[perm])
