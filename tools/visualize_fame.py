# Copyright (c) OpenMMLab. All rights reserved.
"""Show what FAME does to real videos: one picture sheet per video.

Usage::

    python tools/visualize_fame.py VIDEO [VIDEO ...] --out DIR
        [--beta 0.5] [--crop-size 112] [--clip-len 16] [--frame-interval 2]
        [--num-shown 8] [--quirk] [--seed 0] [--gif]

From each video a clip of ``clip-len`` frames at ``frame-interval`` is taken
at a random position (drawn from ``--seed`` and the file name), the largest
centred square of each frame is resized to ``crop-size`` (a training crop of
the largest area), and the FAME maps are computed with
``projects/fame/ops/fame.py``. ``DIR/NAME.png`` then shows, for
``num-shown`` evenly spaced frames of the clip (columns) and, in
the first column, what FAME computes once per clip:

====== ============================== =====================================
row    first column (per clip)        frame columns
====== ============================== =====================================
frames temporal mean (colour input)   the sampled frames
motion motion map; outlines: fore-    absolute difference to the next frame
       ground seeds (white), back-    (summed over RGB, square root, one
       ground seeds (cyan)            scale for the clip)
colour foreground likelihood          the likelihood over each frame
mask   the binary mask (white: kept)  the frames, background dimmed
merged a frame of the background clip the merged clip FAME trains on
====== ============================== =====================================

The background comes from the next video of the list (the last video takes
the first one's). With a single video there is no other video, so a static
checkerboard is the background; the sheet says so.

``--gif`` also writes ``DIR/NAME.gif``: every frame of the clip as
``frame | mask | merged``, played at the video's speed. ``--palette`` writes
256-colour PNGs (about a third of the size, for documentation).
"""
import argparse
import os.path as osp
import sys
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

# Put the repository root first on ``sys.path`` so that ``projects.fame``
# imports whatever the working directory is.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[:1] != [REPO_ROOT]:
    sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
import decord  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402
from PIL import Image  # noqa: E402

from projects.fame.ops import fame as fame_op  # noqa: E402

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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def fraction(text: str) -> Union[float, str]:
    if text == 'auto':
        return text
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"must be in (0, 1] or 'auto', got {value}")
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments to parse. Defaults to
            ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Draw the FAME maps, mask and merged clip of videos')
    parser.add_argument('videos', nargs='+', help='video files')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--beta',
        type=fraction,
        default=0.5,
        help="fraction of each frame kept as foreground, or 'auto' (a "
        'fraction per clip, within 0.05-0.5)')
    parser.add_argument(
        '--crop-size',
        type=positive_int,
        default=112,
        help='side of the square clip (112: R(2+1)D, 224: I3D)')
    parser.add_argument(
        '--clip-len', type=int, default=16, help='frames per clip (>= 2)')
    parser.add_argument(
        '--frame-interval',
        type=positive_int,
        default=2,
        help='temporal stride between sampled frames')
    parser.add_argument(
        '--num-shown',
        type=positive_int,
        default=8,
        help='frames of the clip drawn in the sheet, evenly spaced')
    parser.add_argument(
        '--quirk',
        action='store_true',
        help="hue_mode='radians': the released code's hue aliasing")
    parser.add_argument(
        '--compensate-camera',
        action='store_true',
        help='compensate the camera\'s motion in the motion map, as '
        'FAMEBlending(compensate_camera=True)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the clip positions')
    parser.add_argument(
        '--gif',
        action='store_true',
        help='also write an animated GIF (frame | mask | merged) per video')
    parser.add_argument(
        '--palette',
        action='store_true',
        help='write 256-colour PNG sheets (smaller files)')
    args = parser.parse_args(argv)
    if args.clip_len < 2:
        parser.error('--clip-len must be at least 2: the motion map needs '
                     'frame differences')
    if args.num_shown > args.clip_len:
        parser.error(f'--num-shown ({args.num_shown}) exceeds --clip-len '
                     f'({args.clip_len})')
    return args


def clip_indices(num_frames: int, clip_len: int, frame_interval: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Frame indices of a clip at a random position.

    Like MMAction2's ``SampleFrames`` in training: the start is uniform over
    the positions where the clip fits; shorter videos loop.
    """
    span = (clip_len - 1) * frame_interval + 1
    start = int(rng.integers(max(num_frames - span, 0) + 1))
    return (start + frame_interval * np.arange(clip_len)) % num_frames


def clip_rng(path: str, seed: int) -> np.random.Generator:
    """The generator of a video's clip position: from the seed and the file
    name, so that a video gets the same clip wherever it is listed."""
    return np.random.default_rng(
        [seed, zlib.crc32(osp.basename(path).encode())])


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
              rng: np.random.Generator) -> Dict:
    """Decode a clip of a video, as RGB uint8 frames (T, S, S, 3).

    Raises:
        OSError: Naming the file, if decord cannot read it.
    """
    try:
        reader = decord.VideoReader(path, num_threads=1)
        num_frames = len(reader)
        if num_frames == 0:
            raise RuntimeError('no frames')
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


def checkerboard(clip_len: int, crop_size: int) -> np.ndarray:
    """A static grey-blue checkerboard clip (T, S, S, 3), the lone video's
    background."""
    squares = (np.arange(crop_size) * CHECKER_SQUARES // crop_size) % 2
    board = (squares[:, None] ^ squares[None, :]).astype(bool)
    image = np.where(board[..., None], np.uint8([70, 90, 140]),
                     np.uint8([200, 200, 190]))
    return np.repeat(image[None], clip_len, axis=0)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames -> (3, T, H, W) float in [0, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255


def run_fame(frames: np.ndarray,
             background: np.ndarray,
             beta: Union[float, str],
             hue_mode: str,
             compensate_camera: bool = False) -> Dict[str, np.ndarray]:
    """FAME maps of a clip and the clip merged onto another's background.

    Args:
        frames (np.ndarray): The clip, RGB uint8 of shape (T, H, W, 3).
        background (np.ndarray): The clip lending its background, same
            shape.
        beta (float | str): Foreground fraction, or ``'auto'``.
        hue_mode (str): ``'turns'`` or ``'radians'``.
        compensate_camera (bool): Compensate the camera's motion
            (:func:`camera_shifts`) in the motion map. Defaults to False.

    Returns:
        dict[str, np.ndarray]: ``motion`` and ``score`` (H, W) maps in
        [0, 1], the boolean ``mask`` (H, W), the ``merged`` clip
        (T, H, W, 3) uint8, the foreground ``seeds``, the mask's share
        of the frame (``fraction``) and, compensated, the mean camera
        ``shift`` in pixels a frame (else None).
    """
    clips = torch.stack([to_tensor(frames), to_tensor(background)])
    shifts = fame_op.camera_shifts(clips[:1]) if compensate_camera else None
    num_seeds = None  # the op's fixed 50 %
    if beta == 'auto':
        motion, score, _ = fame_op.adaptive_foreground_maps(
            clips[:1], hue_mode, shifts=shifts)
        # As the op counts them: round(share * H * W), at least one.
        share = fame_op.otsu_fraction(motion).clamp(*fame_op.BETA_RANGE)
        num_seeds = max(1, round(share.item() * motion[0].numel()))
    else:
        motion, score = fame_op.foreground_maps(
            clips[:1], hue_mode, shifts=shifts)
    mask = fame_op.foreground_mask(clips[:1], beta, hue_mode, shifts=shifts)
    # Clip 1 lends clip 0 its background; only clip 0's result is kept.
    merged = fame_op.merge_foreground_background(
        clips, mask.repeat(2, 1, 1), perm=torch.tensor([1, 0]))[0]
    merged = (merged.permute(1, 2, 3, 0) * 255).round().byte().numpy()
    motion, mask = motion[0].numpy(), mask[0].numpy()
    return dict(
        seeds=seed_regions(motion, num_seeds),
        fraction=float(mask.mean()),
        motion=motion,
        motion_inside=float(motion[mask].sum() / max(motion.sum(), 1e-8)),
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
    """Boolean (H, W) maps of FAME's foreground and background seeds.

    ``num_foreground`` most moving pixels are foreground seeds: by default
    the op's fixed 50 % of the frame; per clip for ``beta='auto'``.
    """
    order = np.argsort(-motion, axis=None, kind='stable')
    num_pixels = motion.size
    if num_foreground is None:
        num_foreground = int(fame_op.FOREGROUND_SEED_RATIO * num_pixels)
    num_background = int(fame_op.BACKGROUND_SEED_RATIO * num_pixels)
    regions = {}
    for name, chosen in (('foreground', order[:num_foreground]),
                         ('background', order[num_pixels - num_background:])):
        region = np.zeros(num_pixels, dtype=bool)
        region[chosen] = True
        regions[name] = region.reshape(motion.shape)
    return regions


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
    shown = shown.astype(int)
    sheet = np.empty((*sheet_shape(size, args.num_shown), 3), np.uint8)
    sheet[:] = BACKDROP

    def paste(row: int, column: int, image: np.ndarray) -> None:
        y, x = cell_origin(row, column, size)
        sheet[y:y + size, x:x + size] = image

    mean_frame = frames.astype(np.float32).mean(0).round().astype(np.uint8)
    paste(0, 0, mean_frame)
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
    dimmed = np.where(fame['mask'][..., None], 1., DIMMED)
    for column, t in enumerate(shown, start=1):
        frame = frames[t]
        paste(0, column, frame)
        paste(1, column,
              heatmap(steps[min(t,
                                len(steps) - 1)], cv2.COLORMAP_INFERNO))
        paste(2, column, cv2.addWeighted(frame, 0.45, score, 0.55, 0))
        masked = (frame * dimmed).round().astype(np.uint8)
        outline(masked, fame['mask'], MASK_OUTLINE_COLOUR)
        paste(3, column, masked)
        paste(4, column, fame['merged'][t])

    hue_mode = 'radians' if args.quirk else 'turns'
    height, width = clip['size']
    header = [
        f'{osp.basename(clip["path"])}  {width}x{height}, '
        f'{clip["num_frames"]} frames',
        f'clip {len(frames)}x{args.frame_interval} from frame '
        f'{clip["indices"][0]}; background: {background["name"]}',
        f'crop {size}  beta {beta_text(args.beta, fame)}  hue {hue_mode}  '
        f'seed {args.seed}  '
        f"|  motion inside the mask: {100 * fame['motion_inside']:.0f}%"
    ]
    if fame['shift'] is not None:
        header[-1] += f'  |  camera compensated: {fame["shift"]:.2f} px/frame'
    lines = [part for line in header for part in wrap(line, sheet.shape[1])]
    put_lines(sheet, lines[:HEADER_LINES], 6, LINE_STEP)
    titles = ['per clip'] + [f't={clip["indices"][t]}' for t in shown]
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


def gif_frames(clip: Dict, fame: Dict[str, np.ndarray]) -> List[np.ndarray]:
    """Every frame of the clip as ``frame | mask | merged``."""
    dimmed = np.where(fame['mask'][..., None], 1., DIMMED)
    frames = []
    for frame, merged in zip(clip['frames'], fame['merged']):
        masked = (frame * dimmed).round().astype(np.uint8)
        outline(masked, fame['mask'], MASK_OUTLINE_COLOUR)
        frames.append(np.concatenate([frame, masked, merged], axis=1))
    return frames


def write_gif(path: Path, frames: List[np.ndarray], fps: float,
              frame_interval: int) -> None:
    """Write an endlessly looping GIF at the clip's real speed."""
    duration = max(20, round(1000 * frame_interval / fps))
    # One palette for all frames and no dithering: static pixels stay
    # identical between frames, which GIF stores once (about -40 %).
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
    """256-colour version of a sheet that keeps the outline colours exact.

    Thin outlines cover too few pixels to get a palette entry of their own.
    """
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
    """Write the sheets (and GIFs) of the videos of the command line.

    Returns:
        list[dict]: Per video: ``video``, ``sheet`` (and ``gif``) paths,
        ``motion_inside`` (share of the motion map inside the mask).
    """
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
            path = args.videos[index]
            clips[index] = load_clip(path, args.clip_len, args.frame_interval,
                                     args.crop_size, clip_rng(path, args.seed))
            clips[index]['name'] = osp.basename(args.videos[index])
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
                    name='checkerboard (only one video given)',
                    frames=checkerboard(args.clip_len, args.crop_size))
            fame = run_fame(clip['frames'], background['frames'], args.beta,
                            hue_mode, args.compensate_camera)
            sheet_path = out_dir / f'{names[index]}.png'
            sheet = make_sheet(clip, background, fame, args)
            image = Image.fromarray(sheet)
            if args.palette:
                image = to_palette(image)
            image.save(sheet_path, optimize=True)
            result = dict(
                video=clip['path'],
                sheet=str(sheet_path),
                motion_inside=fame['motion_inside'])
            if args.gif:
                result['gif'] = str(out_dir / f'{names[index]}.gif')
                write_gif(
                    Path(result['gif']), gif_frames(clip, fame), clip['fps'],
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
