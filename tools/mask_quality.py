# Copyright (c) OpenMMLab. All rights reserved.
"""How well do FAME's masks fit the actor? Scores mask settings.

Usage::

    python tools/mask_quality.py --out DIR [--betas 0.5 0.25 0.1 auto]
        [--beta-range 0.05 0.5] [--videos 400] [--sprite-size 0.15 0.7]
        [--crop-size 64] [--seed 0] [--background-videos DIR]
        [--camera-speed 0] [--compensate-camera] [--real VIDEO ...]

On synthetic clips of ``tools/data/make_motion_dataset.py``, rendered in
memory with sprites of every size in ``--sprite-size`` (diameter as a
fraction of the frame side; 0.15-0.7 gives sprites sweeping about 3 % to
60 % of a clip's frame), each setting's masks are scored against the true
sprite masks (their union over the clip's frames, which a mask shared by
all frames has to cover), in bins of that area (``--camera-speed V``
films every clip with a camera panning V pixels a frame, each clip in its
own direction, so that the whole scene moves):

- ``iou``: intersection over union with the sprite;
- ``recall``: share of the sprite inside the mask;
- ``iou_bound``: the best IoU any mask of the setting's size reaches,
  ``min(a, f) / max(a, f)`` for sprite area ``a`` and mask fraction ``f``
  (1 for a fraction that matches the sprite);
- ``fraction``: the mask's share of the frame.

On real videos (``--real VIDEO ...``; a 16x2 clip at 112 px, at the position
``tools/visualize_fame.py`` draws), where no true mask exists, each setting
is scored by
the share of the clip's motion map inside the mask (``motion_inside``),
beside a random mask's expected share, the mask's fraction of the frame;
each clip's ``cut_ratio`` (:func:`shot_cut_ratio`, the measure of
``FAMEBlending``'s shot-cut guard) and ``camera_shift`` (the mean camera
motion :func:`camera_shifts` finds, in pixels a frame) are listed with it.
With ``--compensate-camera`` every mask is found with the camera's motion
compensated (``FAMEBlending(compensate_camera=True)``), and the motion map
the real clips are scored by is compensated too.

Writes ``DIR/mask_quality.json``, ``DIR/mask_quality.md`` and
``DIR/mask_quality.png`` (IoU per size bin).
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tools' / 'data')]

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from make_motion_dataset import (  # noqa: E402
    CLASSES, FRAME_SIZE, BackgroundPool, _load_sources, check_sprite_size,
    render_video)

from projects.fame.ops import (camera_shifts, check_beta,  # noqa: E402
                               check_beta_range, foreground_mask, motion_map,
                               shot_cut_ratio)
from tools.visualize_fame import clip_rng, load_clip  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

# Bins of the sprite's share of the frame (its union over the clip), in %.
AREA_BINS = ((0, 5), (5, 10), (10, 20), (20, 30), (30, 100))
CLIP_LEN, FRAME_INTERVAL = 8, 2  # the tiny pretraining's clips
# Real clips as tools/visualize_fame.py draws them by default: 16x2 at 112.
REAL_CLIP_LEN, REAL_CROP_SIZE = 16, 112
# The largest pan of --camera-speed over a clip, a share of the frame side.
MAX_PAN = 0.25


def parse_beta(text: str) -> Union[float, str]:
    """A fixed fraction in (0, 1] or ``'auto'``."""
    try:
        return check_beta(text if text == 'auto' else float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score FAME mask settings against true sprite masks '
        'and by the motion they hold on real videos')
    add = parser.add_argument
    add('--out', required=True, help='folder of the results')
    add('--betas',
        type=parse_beta,
        nargs='+',
        default=[0.5, 0.25, 0.1, 'auto'],
        help="settings to score: fixed fractions and/or 'auto'")
    add('--beta-range',
        type=float,
        nargs=2,
        default=(0.05, 0.5),
        metavar=('LOW', 'HIGH'),
        help="bounds of the fraction of beta 'auto'")
    add('--videos', type=int, default=400, help='synthetic clips')
    add('--sprite-size',
        type=float,
        nargs=2,
        default=(0.15, 0.7),
        metavar=('LOW', 'HIGH'),
        help='range of the sprites\' diameter, a fraction of the side')
    add('--crop-size',
        type=int,
        default=64,
        help=f'side of the synthetic clips, at most {FRAME_SIZE}')
    add('--seed', type=int, default=0, help='seed of the synthetic clips')
    add('--background-videos',
        metavar='DIR',
        help='folder of videos to crop half the synthetic clips\' '
        'backgrounds from, as the dataset generator does (default: '
        'textures only)')
    add('--camera-speed',
        type=float,
        default=0.,
        help='pan of the synthetic clips\' camera, pixels a frame at '
        '--crop-size (default 0: a still camera)')
    add('--compensate-camera',
        action='store_true',
        help='find the masks with the camera\'s motion compensated')
    add('--real', nargs='+', default=[], help='real videos to score')
    args = parser.parse_args(argv)
    try:
        check_beta_range(args.beta_range)
        check_sprite_size(tuple(args.sprite_size))
    except ValueError as err:
        parser.error(str(err))
    if args.videos < 1 or not 16 <= args.crop_size <= FRAME_SIZE:
        parser.error(f'--videos must be >= 1 and --crop-size in [16, '
                     f'{FRAME_SIZE}]')
    pan = args.camera_speed * (CLIP_LEN - 1) / args.crop_size
    if not 0 <= pan <= MAX_PAN:
        parser.error(f'--camera-speed must be in [0, '
                     f'{MAX_PAN * args.crop_size / (CLIP_LEN - 1):g}] at '
                     f'--crop-size {args.crop_size} (the pan would leave '
                     f'the rendered frame), got {args.camera_speed}')
    return args


def synthetic_clips(
        num_videos: int,
        sprite_size: Tuple[float, float],
        crop_size: int,
        seed: int,
        background_videos: Optional[str] = None,
        camera_speed: float = 0.
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Clips of sprites of every size, and their true masks.

    Each clip draws its class, motion, background and look (so its size,
    uniform in ``sprite_size``) from its own generators, as the generator
    draws a video; half the backgrounds are crops of ``background_videos``
    when it is given. With ``camera_speed`` (pixels a frame at
    ``crop_size``), each clip is a window moving over the rendered frames
    in a direction of its own, as a panning camera films.

    Returns:
        tuple[Tensor, Tensor]: RGB clips (N, 3, T, S, S) in [0, 1] and the
        union over each clip's frames of its sprite mask (N, S, S).
    """
    sources = list(_load_sources(background_videos).values())
    # The generator's pool of unseen backgrounds of that seed.
    backgrounds = BackgroundPool(seed, 'unseen_bg', num_videos, sources)
    num_frames = CLIP_LEN * FRAME_INTERVAL
    clips, truths = [], []
    for index in range(num_videos):
        rng = np.random.default_rng([seed, 1, index])
        look = np.random.default_rng([seed, 2, index])
        label = int(rng.integers(len(CLASSES)))
        frames, masks = render_video(rng, look, label, backgrounds[index],
                                     num_frames, sprite_size)
        frames, masks = pan(frames[::FRAME_INTERVAL],
                            masks[::FRAME_INTERVAL],
                            camera_speed * FRAME_SIZE / crop_size,
                            np.random.default_rng([seed, 3, index]))
        frames = torch.from_numpy(np.ascontiguousarray(frames))
        frames = frames.permute(3, 0, 1, 2).float() / 255
        clips.append(
            F.interpolate(frames, size=(crop_size, crop_size), mode='area'))
        union = torch.from_numpy(masks.any(0)).float()
        truths.append(
            F.interpolate(union[None, None], size=(crop_size, crop_size),
                          mode='area')[0, 0] >= 0.5)
    return torch.stack(clips), torch.stack(truths)


def pan(frames: np.ndarray, masks: np.ndarray, speed: float,
        rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Film (T, H, W, ...) frames and masks with a panning camera.

    A square window, as large as the pan allows, moves ``speed`` pixels a
    frame in a direction drawn from ``rng`` (to whole pixels); frames and
    masks are cut to it. ``speed`` 0 returns them unchanged.
    """
    if speed == 0:
        return frames, masks
    length, size = frames.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    travel = speed * (length - 1)
    side = size - int(np.ceil(travel))
    steps = np.arange(length) * speed
    xs = np.round(steps * np.cos(angle)).astype(int)
    ys = np.round(steps * np.sin(angle)).astype(int)
    xs, ys = xs - xs.min(), ys - ys.min()
    crop = [(slice(y, y + side), slice(x, x + side)) for x, y in zip(xs, ys)]
    return (np.stack([f[c] for f, c in zip(frames, crop)]),
            np.stack([m[c] for m, c in zip(masks, crop)]))


def score_masks(masks: torch.Tensor,
                truths: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-clip scores of (N, H, W) boolean masks against true masks.

    Returns:
        dict[str, Tensor]: ``iou``, ``recall``, ``iou_bound`` and
        ``fraction`` (see the module docstring) and ``area`` (the true
        mask's share of the frame), each of shape (N, ).
    """
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


def binned(scores: Dict[str, torch.Tensor]) -> List[dict]:
    """Mean scores (%) of the clips in each sprite-area bin."""
    rows = []
    area = 100 * scores['area']
    for low, high in AREA_BINS:
        inside = (area >= low) & (area < high)
        row = dict(bin=f'{low}-{high} %', videos=int(inside.sum()))
        for key in ('iou', 'recall', 'iou_bound', 'fraction'):
            values = scores[key][inside]
            row[key] = 100 * values.mean().item() if len(values) else None
        rows.append(row)
    return rows


def real_motion_inside(paths: Sequence[str],
                       betas: Sequence,
                       beta_range: Tuple[float, float],
                       seed: int,
                       compensate_camera: bool = False) -> List[dict]:
    """Per real video and setting: the motion share inside the mask."""
    rows = []
    for path in paths:
        frames = load_clip(path, REAL_CLIP_LEN, FRAME_INTERVAL, REAL_CROP_SIZE,
                           clip_rng(path, seed))['frames']
        clip = torch.from_numpy(frames).permute(3, 0, 1, 2)[None] / 255.
        shifts = camera_shifts(clip)
        used = shifts if compensate_camera else None
        motion = motion_map(clip, used)[0]
        row = dict(
            video=Path(path).name,
            cut_ratio=shot_cut_ratio(clip).item(),
            camera_shift=shifts.norm(dim=-1).mean().item())
        for beta in betas:
            mask = foreground_mask(
                clip, beta, beta_range=beta_range, shifts=used)[0]
            row[str(beta)] = dict(
                motion_inside=100 *
                (motion[mask].sum() / motion.sum().clamp_min(1e-8)).item(),
                fraction=100 * mask.float().mean().item())
        rows.append(row)
    return rows


def write_markdown(results: dict, path: Path) -> None:
    settings = results['settings']
    lines = [
        f'# FAME mask quality ({settings["videos"]} synthetic clips, '
        f'sprite diameter {settings["sprite_size"][0]}-'
        f'{settings["sprite_size"][1]} of the side, {settings["crop_size"]} '
        'px)', '', 'IoU / sprite recall / best IoU at the mask\'s size (%), '
        'by the sprite\'s share of the frame:', ''
    ]
    if settings['camera_speed'] or settings['compensate_camera']:
        lines[2:2] = [
            f'Camera panning {settings["camera_speed"]:g} px a frame; its '
            'motion ' + ('compensated' if settings['compensate_camera'] else
                         'not compensated') + '.', ''
        ]
    bins = results['synthetic'][str(settings['betas'][0])]['bins']
    lines.append('| setting | mean IoU | mean recall | ' +
                 ' | '.join(f'{b["bin"]} ({b["videos"]})'
                            for b in bins) + ' |')
    lines.append('|---' * (3 + len(bins)) + '|')

    def cell(row: dict) -> str:
        if row['iou'] is None:
            return '-'
        return (f'{row["iou"]:.1f} / {row["recall"]:.0f} / '
                f'{row["iou_bound"]:.0f}')

    for beta in settings['betas']:
        synthetic = results['synthetic'][str(beta)]
        name = f'beta {beta}'
        if beta == 'auto':
            name += f' {tuple(settings["beta_range"])}'
        lines.append(f'| {name} | {synthetic["iou"]:.1f} | '
                     f'{synthetic["recall"]:.1f} | ' +
                     ' | '.join(cell(b) for b in synthetic['bins']) + ' |')
    if results['real']:
        lines += [
            '', 'Real videos: motion inside the mask / the mask\'s share of '
            'the frame (a random mask holds its share of the motion), %:', '',
            '| video | cut ratio | camera shift (px) | ' + ' | '.join(
                f'beta {b}' for b in settings['betas']) + ' |',
            '|---' * (3 + len(settings['betas'])) + '|'
        ]
        for row in results['real']:
            cells = [
                f'{row["video"]}', f'{row["cut_ratio"]:.1f}',
                f'{row["camera_shift"]:.2f}'
            ] + [
                f'{row[str(b)]["motion_inside"]:.0f} / '
                f'{row[str(b)]["fraction"]:.0f}' for b in settings['betas']
            ]
            lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', f'Command: `{settings["command"]}`', '']
    path.write_text('\n'.join(lines))


def write_chart(results: dict, path: Path) -> None:
    """IoU per sprite-area bin, one line per setting."""
    settings = results['settings']
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for beta in settings['betas']:
        bins = results['synthetic'][str(beta)]['bins']
        kept = [b for b in bins if b['iou'] is not None]
        ax.plot([b['bin'] for b in kept], [b['iou'] for b in kept],
                marker='o',
                label=f'beta {beta}')
    ax.set_xlabel("sprite's share of the frame")
    ax.set_ylabel('IoU with the sprite (%)')
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        clips, truths = synthetic_clips(args.videos, tuple(args.sprite_size),
                                        args.crop_size, args.seed,
                                        args.background_videos,
                                        args.camera_speed)
    except (OSError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    shifts = camera_shifts(clips) if args.compensate_camera else None
    synthetic = {}
    for beta in args.betas:
        masks = foreground_mask(
            clips, beta, beta_range=args.beta_range, shifts=shifts)
        scores = score_masks(masks, truths)
        synthetic[str(beta)] = dict(
            iou=100 * scores['iou'].mean().item(),
            recall=100 * scores['recall'].mean().item(),
            bins=binned(scores))
    try:
        real = real_motion_inside(args.real, args.betas,
                                  tuple(args.beta_range), args.seed,
                                  args.compensate_camera)
    except OSError as err:
        raise SystemExit(f'error: {err}')
    results = dict(
        settings=dict(
            betas=args.betas,
            beta_range=list(args.beta_range),
            videos=args.videos,
            sprite_size=list(args.sprite_size),
            crop_size=args.crop_size,
            seed=args.seed,
            camera_speed=args.camera_speed,
            compensate_camera=args.compensate_camera,
            command=' '.join(['python', 'tools/mask_quality.py'] +
                             list(sys.argv[1:] if argv is None else argv))),
        synthetic=synthetic,
        real=real)
    (out / 'mask_quality.json').write_text(json.dumps(results, indent=2))
    write_markdown(results, out / 'mask_quality.md')
    write_chart(results, out / 'mask_quality.png')
    print((out / 'mask_quality.md').read_text())
    return results


if __name__ == '__main__':
    main()
