# Copyright (c) OpenMMLab. All rights reserved.
"""How well do FAME's masks fit the actor? Scores mask settings.

Usage::

    python tools/mask_quality.py --out DIR [--betas 0.5 0.25 0.1 auto]
        [--beta-range 0.05 0.5] [--videos 400] [--sprite-size 0.15 0.7]
        [--crop-size 64] [--seed 0] [--background-videos DIR]
        [--camera-speed 0] [--compensate-camera] [--real VIDEO ...]

Synthetic clips of sprites of every size in ``--sprite-size`` (optionally
filmed by a camera panning ``--camera-speed`` pixels a frame): each
setting's masks against the union of the true sprite masks, by the
sprite's area (``iou``, ``recall``, ``iou_bound``: the best IoU of a mask
of that size, ``fraction``: the mask's share). Real videos (``--real``,
the clip ``tools/visualize_fame.py`` draws): the share of the motion map
inside the mask (``motion_inside``), with each clip's ``cut_ratio`` and
``camera_shift``. Writes ``DIR/mask_quality.json``, ``.md`` and ``.png``.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from projects.fame import ops  # noqa: E402
from tools import common  # noqa: E402
from tools.data import motion_dataset  # noqa: E402

# Bins of the sprite's share of the frame (its union over the clip), in %.
AREA_BINS = ((0, 5), (5, 10), (10, 20), (20, 30), (30, 100))
CLIP_LEN, FRAME_INTERVAL = 8, 2  # the tiny pretraining's clips
REAL_CLIP_LEN, REAL_CROP_SIZE = 16, 112  # visualize_fame's default clips
FRAME_SIZE = motion_dataset.FRAME_SIZE
MAX_PAN = 0.25  # the largest pan over a clip, a share of the frame side


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score FAME mask settings against true sprite masks '
        'and by the motion they hold on real videos')
    add = parser.add_argument
    pair = dict(type=float, nargs=2, metavar=('LOW', 'HIGH'))
    add('--out', required=True, help='folder of the results')
    add('--betas',
        type=common.parse_beta,
        nargs='+',
        default=[0.5, 0.25, 0.1, 'auto'],
        help="fixed fractions and/or 'auto'")
    add('--beta-range', default=(0.05, 0.5), help="bounds of 'auto'", **pair)
    add('--videos',
        type=common.at_least(1),
        default=400,
        help='synthetic clips')
    add('--sprite-size', default=(0.15, 0.7), help='sprite diameters', **pair)
    add('--crop-size', type=int, default=64, help=f'16 to {FRAME_SIZE}')
    add('--seed', type=int, default=0, help='seed of the synthetic clips')
    add('--background-videos',
        metavar='DIR',
        help='videos to crop half the backgrounds from (default: textures)')
    add('--camera-speed', type=float, default=0., help='camera pan, px/frame')
    add('--compensate-camera', action='store_true', help='compensate it')
    add('--real', nargs='+', default=[], help='real videos to score')
    args = parser.parse_args(argv)
    try:
        ops.check_beta_range(args.beta_range)
        motion_dataset.check_sprite_size(tuple(args.sprite_size))
    except ValueError as err:
        parser.error(str(err))
    if not 16 <= args.crop_size <= FRAME_SIZE:
        parser.error(f'--crop-size must be in [16, {FRAME_SIZE}]')
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
        camera_speed: float = 0.) -> Tuple[torch.Tensor, torch.Tensor]:
    """Clips (N, 3, T, S, S) in [0, 1] of sprites of every size, each drawn
    as the generator draws a video over the unseen backgrounds of ``seed``,
    and their true masks' unions (N, S, S). With ``camera_speed`` (pixels a
    frame at ``crop_size``) each clip is filmed by a panning camera."""
    sources = list(motion_dataset.load_sources(background_videos).values())
    clips, truths = [], []
    for index in range(num_videos):
        rng = np.random.default_rng([seed, 1, index])
        look = np.random.default_rng([seed, 2, index])
        label = int(rng.integers(len(motion_dataset.CLASSES)))
        frames, masks = motion_dataset.render_video(
            rng, look, label,
            motion_dataset.background(seed, 'unseen_bg', index, sources),
            CLIP_LEN * FRAME_INTERVAL, sprite_size)
        frames, masks = pan(frames[::FRAME_INTERVAL], masks[::FRAME_INTERVAL],
                            camera_speed * FRAME_SIZE / crop_size,
                            np.random.default_rng([seed, 3, index]))
        clip, truth = common.resize_clip(frames, masks, crop_size)
        clips.append(clip)
        truths.append(truth)
    return torch.stack(clips), torch.stack(truths)


def pan(frames: np.ndarray, masks: np.ndarray, speed: float,
        rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Film (T, H, W, ...) frames and masks through a square window, as
    large as the pan allows, moving ``speed`` pixels a frame (rounded) in a
    direction drawn from ``rng``; ``speed`` 0 returns them unchanged."""
    if speed == 0:
        return frames, masks
    length, size = frames.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    side = size - int(np.ceil(speed * (length - 1)))
    steps = np.arange(length) * speed
    xs = np.round(steps * np.cos(angle)).astype(int)
    ys = np.round(steps * np.sin(angle)).astype(int)
    xs, ys = xs - xs.min(), ys - ys.min()
    crop = [(slice(y, y + side), slice(x, x + side)) for x, y in zip(xs, ys)]
    return (np.stack([f[c] for f, c in zip(frames, crop)]),
            np.stack([m[c] for m, c in zip(masks, crop)]))


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
        clip = common.to_tensor(
            common.load_clip(path, REAL_CLIP_LEN, FRAME_INTERVAL,
                             REAL_CROP_SIZE, seed)['frames'])[None]
        shifts = ops.camera_shifts(clip)
        used = shifts if compensate_camera else None
        motion = ops.scene_motion_map(clip, used)[0]
        row = dict(
            video=Path(path).name,
            cut_ratio=ops.shot_cut_ratio(clip).item(),
            camera_shift=shifts.norm(dim=-1).mean().item())
        for beta in betas:
            mask = ops.fame_mask(
                clip, beta, beta_range=beta_range, shifts=used)[0]
            row[str(beta)] = dict(
                motion_inside=100 * common.motion_inside(motion, mask),
                fraction=100 * mask.float().mean().item())
        rows.append(row)
    return rows


def write_markdown(results: dict, path: Path) -> None:
    settings, betas = results['settings'], results['settings']['betas']
    lines = [
        f'# FAME mask quality ({settings["videos"]} synthetic clips, '
        f'sprite diameter {settings["sprite_size"][0]}-'
        f'{settings["sprite_size"][1]} of the side, {settings["crop_size"]} '
        'px)', ''
    ]
    if settings['camera_speed'] or settings['compensate_camera']:
        lines += [
            f'Camera panning {settings["camera_speed"]:g} px a frame; its '
            'motion ' + ('compensated' if settings['compensate_camera'] else
                         'not compensated') + '.', ''
        ]
    lines += [
        'IoU / sprite recall / best IoU at the mask\'s size (%), by the '
        'sprite\'s share of the frame:', ''
    ]
    bins = results['synthetic'][str(betas[0])]['bins']
    rows = []
    for beta in betas:
        synthetic = results['synthetic'][str(beta)]
        rows.append([
            f'beta {beta}' +
            (f' {tuple(settings["beta_range"])}' if beta == 'auto' else ''),
            f'{synthetic["iou"]:.1f}', f'{synthetic["recall"]:.1f}'
        ] + [
            '-' if b['iou'] is None else
            f'{b["iou"]:.1f} / {b["recall"]:.0f} / {b["iou_bound"]:.0f}'
            for b in synthetic['bins']
        ])
    lines += common.table(['setting', 'mean IoU', 'mean recall'] +
                          [f'{b["bin"]} ({b["videos"]})' for b in bins], rows)
    if results['real']:
        lines += [
            '', 'Real videos: motion inside the mask / the mask\'s share of '
            'the frame (a random mask holds its share of the motion), %:', ''
        ] + common.table(['video', 'cut ratio', 'camera shift (px)'] +
                         [f'beta {b}' for b in betas], [[
                             row['video'], f'{row["cut_ratio"]:.1f}',
                             f'{row["camera_shift"]:.2f}'
                         ] + [
                             f'{row[str(b)]["motion_inside"]:.0f} / '
                             f'{row[str(b)]["fraction"]:.0f}' for b in betas
                         ] for row in results['real']])
    lines += ['', f'Command: `{settings["command"]}`', '']
    path.write_text('\n'.join(lines))


def write_chart(results: dict, path: Path) -> None:
    """IoU per sprite-area bin, one line per setting."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for beta in results['settings']['betas']:
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


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        clips, truths = synthetic_clips(args.videos, tuple(args.sprite_size),
                                        args.crop_size, args.seed,
                                        args.background_videos,
                                        args.camera_speed)
        real = real_motion_inside(args.real, args.betas,
                                  tuple(args.beta_range), args.seed,
                                  args.compensate_camera)
    except (OSError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    shifts = ops.camera_shifts(clips) if args.compensate_camera else None
    synthetic = {}
    for beta in args.betas:
        scores = common.score_masks(
            ops.fame_mask(
                clips, beta, beta_range=args.beta_range, shifts=shifts),
            truths)
        synthetic[str(beta)] = dict(
            iou=100 * scores['iou'].mean().item(),
            recall=100 * scores['recall'].mean().item(),
            bins=binned(scores))
    settings = vars(args).copy()
    settings.update(
        beta_range=list(args.beta_range),
        sprite_size=list(args.sprite_size),
        command=common.command_line('mask_quality', argv))
    for key in ('out', 'background_videos', 'real'):
        settings.pop(key)
    results = dict(settings=settings, synthetic=synthetic, real=real)
    common.write_results(results, out / 'mask_quality', write_markdown,
                         write_chart)
    return results


if __name__ == '__main__':
    main()
