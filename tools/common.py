# Copyright (c) OpenMMLab. All rights reserved.
"""What the tools share: argument types, clips, masks and result files."""
import argparse
import json
import os.path as osp
import shlex
import sys
import zlib
from pathlib import Path
from typing import (Callable, Dict, Iterable, List, Optional, Sequence, Tuple,
                    Union)

import cv2
import decord
import numpy as np
import torch
import torch.nn.functional as F

from projects.fame.ops import check_beta


def parse_beta(text: str) -> Union[float, str]:
    """Argument type: a fixed fraction in (0, 1] or ``'auto'``."""
    try:
        return check_beta(text if text == 'auto' else float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))


def at_least(minimum: int) -> Callable[[str], int]:
    """Argument type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        if int(text) < minimum:
            raise argparse.ArgumentTypeError(
                f'must be >= {minimum}, got {text}')
        return int(text)

    return parse


def command_line(tool: str, argv: Optional[Sequence[str]]) -> str:
    """The command that ran ``tools/{tool}.py``, for its results."""
    args = sys.argv[1:] if argv is None else argv
    return ' '.join([f'python tools/{tool}.py'] +
                    [shlex.quote(arg) for arg in args])


def write_results(results: dict, stem: Path,
                  write_markdown: Callable[[dict, Path], None],
                  write_chart: Callable[[dict, Path], None]) -> None:
    """Write ``stem.json``, ``.md`` and ``.png``; print the markdown."""
    stem.with_suffix('.json').write_text(json.dumps(results, indent=2))
    write_markdown(results, stem.with_suffix('.md'))
    write_chart(results, stem.with_suffix('.png'))
    print(stem.with_suffix('.md').read_text())


def table(header: Sequence[str],
          rows: Iterable[Sequence[str]],
          align: str = '') -> List[str]:
    """Lines of a markdown table; ``align`` 'l' or 'r' a column (all 'l'
    by default)."""
    rule = ''.join('---:|' if a == 'r' else '---|'
                   for a in align or 'l' * len(header))
    return ['| ' + ' | '.join(header) + ' |', '|' + rule
            ] + ['| ' + ' | '.join(row) + ' |' for row in rows]


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames -> (3, T, H, W) float in [0, 1]."""
    frames = torch.from_numpy(np.ascontiguousarray(frames))
    return frames.permute(3, 0, 1, 2).float() / 255


def resize_clip(frames: np.ndarray, masks: np.ndarray,
                size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """A clip (T, H, W, 3) uint8 and its true masks (T, H, W), resized to
    ``size``: (3, T, S, S) in [0, 1] and the union of the masks over the
    frames, (S, S), True where a pixel is at least half covered."""
    clip = F.interpolate(to_tensor(frames), size=(size, size), mode='area')
    union = torch.from_numpy(masks.any(0)).float()[None, None]
    union = F.interpolate(union, size=(size, size), mode='area')[0, 0]
    return clip, union >= 0.5


def score_masks(masks: torch.Tensor,
                truths: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-clip scores (N, ) of (N, H, W) boolean masks against true ones:
    ``iou``, ``recall`` (share of the truth in the mask), ``iou_bound``
    (the best IoU of a mask of that size), ``fraction`` (the mask's share
    of the frame) and ``area`` (the truth's)."""
    num_pixels = truths[0].numel()
    inter = (masks & truths).flatten(1).sum(1).double()
    union = (masks | truths).flatten(1).sum(1).double()
    truth_area = truths.flatten(1).sum(1).double()
    mask_area = masks.flatten(1).sum(1).double()
    return dict(
        iou=inter / union.clamp_min(1),
        recall=inter / truth_area.clamp_min(1),
        iou_bound=torch.minimum(truth_area, mask_area) /
        torch.maximum(truth_area, mask_area).clamp_min(1),
        fraction=mask_area / num_pixels,
        area=truth_area / num_pixels)


def motion_inside(motion: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of a (H, W) motion map inside a boolean (H, W) mask."""
    return (motion[mask].sum() / motion.sum().clamp_min(1e-8)).item()


def clip_indices(num_frames: int, clip_len: int, frame_interval: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Frame indices of a clip at a random position, as ``SampleFrames``
    in training; shorter videos loop."""
    span = (clip_len - 1) * frame_interval + 1
    start = int(rng.integers(max(num_frames - span, 0) + 1))
    return (start + frame_interval * np.arange(clip_len)) % num_frames


def centre_square(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize (T, H, W, 3) frames to a short side of ``size``, crop square."""
    height, width = frames.shape[1:3]
    scale = size / min(height, width)
    new_w = max(size, round(width * scale))
    new_h = max(size, round(height * scale))
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return np.stack([
        cv2.resize(frame, (new_w, new_h),
                   interpolation=cv2.INTER_AREA)[top:top + size,
                                                 left:left + size]
        for frame in frames
    ])


def load_clip(path: str, clip_len: int, frame_interval: int, crop_size: int,
              seed: int) -> dict:
    """Decode a clip at a position drawn from ``seed``: a dict of
    ``path``, ``frames`` (T, S, S, 3) uint8, ``indices``, ``num_frames``,
    ``size`` (H, W) and ``fps``; OSError naming an unreadable file."""
    try:
        reader = decord.VideoReader(path, num_threads=1)
        num_frames = len(reader)
        if num_frames == 0:
            raise RuntimeError('no frames')
        # Drawn from the seed and the file name: a video gets the same clip
        # wherever it is listed.
        rng = np.random.default_rng(
            [seed, zlib.crc32(osp.basename(path).encode())])
        indices = clip_indices(num_frames, clip_len, frame_interval, rng)
        frames = reader.get_batch(indices.tolist()).asnumpy()
        fps = reader.get_avg_fps()
    except (RuntimeError, decord.DECORDError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise OSError(f'cannot read video {path}: {reason}') from err
    return dict(
        path=path,
        frames=centre_square(frames, crop_size),
        indices=indices,
        num_frames=num_frames,
        size=frames.shape[1:3],
        fps=fps if fps > 0 else 25.)
