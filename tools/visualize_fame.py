# Copyright (c) OpenMMLab. All rights reserved.
"""Show what FAME does to real videos: one picture sheet per video.

Usage::

    python tools/visualize_fame.py VIDEO [VIDEO ...] --out DIR
        [--beta 0.5] [--crop-size 112] [--clip-len 16] [--frame-interval 2]
        [--num-shown 8] [--quirk] [--compensate-camera] [--seed 0] [--gif]
        [--palette]

A clip of each video (at a position drawn from ``--seed`` and the file
name, the centred square resized to ``--crop-size``) goes through
``projects.fame.ops``. ``DIR/NAME.png`` shows, first per clip, then for
``--num-shown`` frames: the temporal mean, then the frames; the motion map
with the foreground (white) and background (cyan) seeds, then the frame
differences; the colour score; the mask, then the frames with the
background dimmed; a frame of the background clip (the next video's, or a
checkerboard for one video), then the merged clip. ``--gif`` also writes
``DIR/NAME.gif`` (``frame | mask | merged``); ``--palette`` 256 colours.
"""
import argparse
import os.path as osp
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402
from PIL import Image  # noqa: E402

from projects.fame import ops  # noqa: E402
from projects.fame.ops import fame as fame_op  # noqa: E402
from tools import common  # noqa: E402

ROWS = ('frames', 'motion', 'colour score', 'mask', 'merged')
LABEL_WIDTH = 112  # row titles
HEADER_LINES = 4  # about the video and the settings, wrapped
LINE_STEP = 16
HEADER_HEIGHT = HEADER_LINES * LINE_STEP + 8
TITLE_HEIGHT = 16  # column titles
GAP = 2  # between cells
FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKDROP = (24, 24, 24)
TEXT = (235, 235, 235)
FOREGROUND_SEED_COLOUR = (255, 255, 255)
BACKGROUND_SEED_COLOUR = (0, 230, 230)
MASK_OUTLINE_COLOUR = (60, 255, 60)
DIMMED = 0.3  # brightness of the background in the mask row
CHECKER_SQUARES = 8  # squares per side of the single-video background


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the FAME maps, mask and merged clip of videos')
    add = parser.add_argument
    add('videos', nargs='+', help='video files')
    add('--out', required=True, help='output folder')
    add('--beta',
        type=common.parse_beta,
        default=0.5,
        help="fraction of each frame kept as foreground, or 'auto' (a "
        'fraction per clip, within 0.05-0.5)')
    for flag, minimum, default, text in [
        ('--crop-size', 1, 112, 'side of the square clip (R(2+1)D: 112)'),
        ('--clip-len', 2, 16, 'frames per clip (motion needs two)'),
        ('--frame-interval', 1, 2, 'temporal stride between frames'),
        ('--num-shown', 1, 8, 'frames drawn in the sheet, evenly spaced'),
    ]:
        add(flag, type=common.at_least(minimum), default=default, help=text)
    add('--quirk',
        action='store_true',
        help="hue_mode='radians': the released code's hue aliasing")
    add('--compensate-camera',
        action='store_true',
        help='compensate the camera\'s motion in the motion map, as '
        'FAMEBlending(compensate_camera=True)')
    add('--seed', type=int, default=0, help='seed of the clip positions')
    add('--gif',
        action='store_true',
        help='also write an animated GIF (frame | mask | merged) per video')
    add('--palette',
        action='store_true',
        help='write 256-colour PNG sheets (smaller files)')
    args = parser.parse_args(argv)
    if args.num_shown > args.clip_len:
        parser.error(f'--num-shown ({args.num_shown}) exceeds --clip-len '
                     f'({args.clip_len})')
    return args


def checkerboard(clip_len: int, crop_size: int) -> np.ndarray:
    """A static grey-blue checkerboard clip (T, S, S, 3), the lone video's
    background."""
    squares = (np.arange(crop_size) * CHECKER_SQUARES // crop_size) % 2
    board = (squares[:, None] ^ squares[None, :]).astype(bool)
    image = np.where(board[..., None], np.uint8([70, 90, 140]),
                     np.uint8([200, 200, 190]))
    return np.repeat(image[None], clip_len, axis=0)


def run_fame(frames: np.ndarray,
             background: np.ndarray,
             beta: Union[float, str],
             hue_mode: str,
             compensate_camera: bool = False) -> Dict[str, np.ndarray]:
    """FAME on a clip (T, H, W, 3) uint8 merged onto ``background``'s:
    ``motion`` and ``score`` maps, ``mask``, ``merged`` clip, ``seeds``, the
    mask's ``fraction``, ``motion_inside`` it and the camera ``shift``."""
    clips = torch.stack([common.to_tensor(c) for c in (frames, background)])
    clip = clips[:1]
    shifts = ops.camera_shifts(clip) if compensate_camera else None
    num_seeds = None  # the op's fixed 50 %
    if beta == 'auto':
        motion, score, _ = ops.adaptive_foreground_maps(
            clip, hue_mode, shifts=shifts)
        # As the op counts them: round(share * H * W), at least one.
        share = ops.otsu_fraction(motion).clamp(*ops.BETA_RANGE)
        num_seeds = max(1, round(share.item() * motion[0].numel()))
    else:
        motion, score = ops.foreground_maps(clip, hue_mode,
                                            ops.scene_motion_map(clip, shifts))
    mask = ops.fame_mask(clip, beta, hue_mode, shifts=shifts)
    # Clip 1 lends clip 0 its background; only clip 0's result is kept.
    merged = ops.merge_foreground_background(
        clips, mask.repeat(2, 1, 1), perm=torch.tensor([1, 0]))[0]
    merged = (merged.permute(1, 2, 3, 0) * 255).round().byte().numpy()
    inside = common.motion_inside(motion[0], mask[0])
    motion, mask = motion[0].numpy(), mask[0].numpy()
    return dict(
        seeds=seed_regions(motion, num_seeds),
        fraction=float(mask.mean()),
        motion=motion,
        motion_inside=inside,
        score=score[0].numpy(),
        mask=mask,
        merged=merged,
        shift=None if shifts is None else shifts.norm(dim=-1).mean().item())


def heatmap(values: np.ndarray, colormap: int) -> np.ndarray:
    """RGB uint8 picture of an (H, W) map in [0, 1]."""
    grey = (np.clip(values, 0, 1) * 255).round().astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, colormap), cv2.COLOR_BGR2RGB)


def outline(image: np.ndarray, region: np.ndarray, colour: tuple) -> None:
    """Draw the outline of a boolean (H, W) region onto ``image``."""
    contours, _ = cv2.findContours(
        region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(image, contours, -1, colour, 1)


def seed_regions(
        motion: np.ndarray,
        num_foreground: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Boolean (H, W) maps of FAME's foreground seeds, the
    ``num_foreground`` most moving pixels (``beta='auto'``; the op's fixed
    share by default), and background seeds (then the other pixels; the
    op's least moving share by default)."""
    rank = np.empty(motion.size, int)
    rank[np.argsort(-motion, axis=None, kind='stable')] = range(motion.size)
    rank = rank.reshape(motion.shape)
    if num_foreground is None:
        num_foreground = int(fame_op.FOREGROUND_SEED_RATIO * motion.size)
        num_background = int(fame_op.BACKGROUND_SEED_RATIO * motion.size)
    else:  # beta='auto': every static pixel
        num_background = motion.size - num_foreground
    return dict(
        foreground=rank < num_foreground,
        background=rank >= motion.size - num_background)


def put_lines(image: np.ndarray,
              lines: Sequence[str],
              x: int,
              y: int,
              scale: float = 0.4,
              step: int = 16) -> None:
    """Write lines of text with their first baseline at (x, y)."""
    for i, line in enumerate(lines):
        cv2.putText(image, line, (x, y + i * step), FONT, scale, TEXT, 1,
                    cv2.LINE_AA)


def wrap(text: str, width: int, scale: float = 0.4) -> List[str]:
    """Break text at spaces into lines narrower than ``width`` pixels."""
    lines = ['']
    for word in text.split(' '):
        candidate = f'{lines[-1]} {word}' if lines[-1] else word
        if cv2.getTextSize(candidate, FONT, scale, 1)[0][0] <= width - 12:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def cell_origin(row: int, column: int, crop_size: int) -> tuple:
    """Top-left (y, x) of a cell of the sheet; column 0 is the per-clip
    column."""
    return (HEADER_HEIGHT + TITLE_HEIGHT + row * (crop_size + GAP),
            LABEL_WIDTH + column * (crop_size + GAP))


def sheet_shape(crop_size: int, num_shown: int) -> tuple:
    """(height, width) of a sheet."""
    height, width = cell_origin(len(ROWS), num_shown + 1, crop_size)
    return height - GAP, width - GAP


def make_sheet(clip: Dict, background: Dict, fame: Dict[str, np.ndarray],
               args: argparse.Namespace) -> np.ndarray:
    """Draw the sheet of a clip (see the module docstring) as RGB uint8."""
    frames = clip['frames']
    size = args.crop_size
    shown = np.linspace(0, len(frames) - 1, args.num_shown).round()
    sheet = np.full((*sheet_shape(size, args.num_shown), 3), BACKDROP,
                    np.uint8)

    def paste(row: int, column: int, image: np.ndarray) -> None:
        y, x = cell_origin(row, column, size)
        sheet[y:y + size, x:x + size] = image

    paste(0, 0, frames.astype(np.float32).mean(0).round().astype(np.uint8))
    motion = heatmap(fame['motion'], cv2.COLORMAP_INFERNO)
    seeds = fame['seeds']
    outline(motion, seeds['foreground'], FOREGROUND_SEED_COLOUR)
    outline(motion, seeds['background'], BACKGROUND_SEED_COLOUR)
    paste(1, 0, motion)
    score = heatmap(fame['score'], cv2.COLORMAP_VIRIDIS)
    paste(2, 0, score)
    paste(3, 0, np.repeat(fame['mask'][..., None] * np.uint8(255), 3, 2))
    paste(4, 0, background['frames'][len(frames) // 2])

    # The per-step differences whose blurred mean is the motion map.
    steps = np.abs(np.diff(frames.astype(np.float32), axis=0)).sum(-1)
    # One scale for the clip; the square root shows faint motion beside a
    # strong one (e.g. a scene cut).
    steps = np.sqrt(steps / max(steps.max(), 1e-8))
    steps = np.concatenate([steps, steps[-1:]])  # the last frame's: its own
    for column, t in enumerate(shown.astype(int), start=1):
        paste(0, column, frames[t])
        paste(1, column, heatmap(steps[t], cv2.COLORMAP_INFERNO))
        paste(2, column, cv2.addWeighted(frames[t], 0.45, score, 0.55, 0))
        paste(3, column, dim_background(frames[t], fame['mask']))
        paste(4, column, fame['merged'][t])

    hue_mode = 'radians' if args.quirk else 'turns'
    height, width = clip['size']
    header = [
        f'{osp.basename(clip["path"])}  {width}x{height}, '
        f'{clip["num_frames"]} frames',
        f'clip {len(frames)}x{args.frame_interval} from frame '
        f'{clip["indices"][0]}; background: '
        f'{osp.basename(background["path"])}',
        f'crop {size}  beta {beta_text(args.beta, fame)}  hue {hue_mode}  '
        f'seed {args.seed}  '
        f"|  motion inside the mask: {100 * fame['motion_inside']:.0f}%"
    ]
    if fame['shift'] is not None:
        header[-1] += f'  |  camera compensated: {fame["shift"]:.2f} px/frame'
    lines = [part for line in header for part in wrap(line, sheet.shape[1])]
    put_lines(sheet, lines[:HEADER_LINES], 6, LINE_STEP)
    titles = ['per clip'] + [f't={clip["indices"][int(t)]}' for t in shown]
    for column, title in enumerate(titles):
        y, x = cell_origin(0, column, size)
        put_lines(sheet, [title], x + 2, y - 4, scale=0.35)
    labels = (['frames', 'mean | frames'],
              ['motion', 'map + seeds:', 'fg=white bg=cyan',
               '| frame diffs'], ['colour score', 'P_F / (P_F + P_B)'],
              ['mask', f'beta {beta_text(args.beta, fame)}'
               ], ['merged', 'over background'])
    for row, lines in enumerate(labels):
        y, _ = cell_origin(row, 0, size)
        put_lines(sheet, lines, 6, y + 14, scale=0.38, step=14)
    return sheet


def beta_text(beta: Union[float, str], fame: Dict) -> str:
    """``beta`` as set, with the clip's fraction for ``'auto'``."""
    return f'auto: {fame["fraction"]:.2f}' if beta == 'auto' else str(beta)


def dim_background(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frame with its background dimmed and the mask outlined."""
    dimmed = np.where(mask[..., None], 1., DIMMED)
    image = (frame * dimmed).round().astype(np.uint8)
    outline(image, mask, MASK_OUTLINE_COLOUR)
    return image


def write_gif(path: str, frames: List[np.ndarray], fps: float,
              frame_interval: int) -> None:
    """Write an endlessly looping GIF at the clip's real speed."""
    duration = max(20, round(1000 * frame_interval / fps))
    # One palette, no dithering: static pixels stay identical between
    # frames, which GIF stores once (about -40 %).
    palette = Image.fromarray(np.concatenate(frames)).quantize(
        256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    images = [
        Image.fromarray(frame).quantize(
            palette=palette, dither=Image.Dither.NONE) for frame in frames
    ]
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=duration,
        loop=0,
        optimize=True)


def to_palette(image: Image.Image) -> Image.Image:
    """256-colour version of a sheet that keeps the outline colours exact
    (thin outlines cover too few pixels to get a palette entry)."""
    fixed = [
        FOREGROUND_SEED_COLOUR, BACKGROUND_SEED_COLOUR, MASK_OUTLINE_COLOUR,
        TEXT
    ]
    base = image.quantize(256 - len(fixed), dither=Image.Dither.NONE)
    num_colours = len(base.getcolors())
    palette = base.getpalette()[:3 * num_colours]
    reference = Image.new('P', (1, 1))
    reference.putpalette(palette + [v for colour in fixed for v in colour])
    return image.quantize(palette=reference, dither=Image.Dither.NONE)


def output_names(videos: Sequence[str]) -> List[str]:
    """File stems of the outputs: the video's stem, unique in the list."""
    stems = [Path(v).stem for v in videos]
    return [
        stem if stems.count(stem) == 1 else f'{i:02d}_{stem}'
        for i, stem in enumerate(stems)
    ]


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    """Write the sheets (and GIFs); return per video its ``video``,
    ``sheet`` (and ``gif``) paths and ``motion_inside``."""
    args = parse_args(argv)
    missing = [v for v in args.videos if not osp.isfile(v)]
    if missing:
        raise SystemExit('error: video file(s) not found: ' +
                         ', '.join(missing))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    hue_mode = 'radians' if args.quirk else 'turns'
    names = output_names(args.videos)

    clips: Dict[int, Dict] = {}

    def get_clip(index: int) -> Dict:
        if index not in clips:
            clips[index] = common.load_clip(args.videos[index], args.clip_len,
                                            args.frame_interval,
                                            args.crop_size, args.seed)
        return clips[index]

    results = []
    num_videos = len(args.videos)
    progress = ProgressBar(num_videos)
    try:
        for index in range(num_videos):
            clip = get_clip(index)
            if num_videos > 1:
                background = get_clip((index + 1) % num_videos)
            else:
                background = dict(
                    path='checkerboard (only one video given)',
                    frames=checkerboard(args.clip_len, args.crop_size))
            fame = run_fame(clip['frames'], background['frames'], args.beta,
                            hue_mode, args.compensate_camera)
            sheet_path = out_dir / f'{names[index]}.png'
            image = Image.fromarray(make_sheet(clip, background, fame, args))
            image = to_palette(image) if args.palette else image
            image.save(sheet_path, optimize=True)
            result = dict(
                video=clip['path'],
                sheet=str(sheet_path),
                motion_inside=fame['motion_inside'])
            if args.gif:
                result['gif'] = str(out_dir / f'{names[index]}.gif')
                frames = [  # frame | mask | merged
                    np.concatenate([f, dim_background(f, fame['mask']), m], 1)
                    for f, m in zip(clip['frames'], fame['merged'])
                ]
                write_gif(result['gif'], frames, clip['fps'],
                          args.frame_interval)
            results.append(result)
            # Video 0 is the last video's background: keep it to the end.
            if index > 0:
                clips.pop(index, None)
            progress.update()
    except OSError as err:
        raise SystemExit(f'\nerror: {err}')
    print()
    for result in results:
        outputs = ', '.join(result[k] for k in ('sheet', 'gif') if k in result)
        print(f'{result["video"]}: {100 * result["motion_inside"]:.0f}% of '
              f'the motion inside the mask -> {outputs}')
    return results


if __name__ == '__main__':
    main()
