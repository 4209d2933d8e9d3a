# Copyright (c) OpenMMLab. All rights reserved.
"""Generate a small synthetic motion dataset with a known background bias.

Every video shows one foreground sprite moving over a static background. The
class is the sprite's motion pattern only; its position and speed are drawn
independently of the class, and its look (shape, size, colours) is one of
``APPEARANCES`` looks shared by all videos, so that the look alone does not
tell two videos apart. The background is identical in every frame. A model
can only classify these videos from motion, so a representation that leans
on the background shows it at once.

Every class moves the whole sprite across the frame, as an actor's
movement displaces it in an action video: translation in four directions,
an orbit either way, oscillation along either axis. (An earlier version had
motions in place, a spin and a pulsation, which contrastive pretraining did
not pick up; see ``docs/bias_benchmark.md``.)

The sprite is the video's actor, sized as FAME assumes actors to be: FAME
keeps half of every frame as foreground (``beta = 0.5``), which suits
action videos whose actor fills a large part of the frame, as in
Kinetics. A sprite's diameter is 0.4-0.7 of the frame (about 16 % of its
area; a clip's sprite sweeps over a third of a crop). Around a smaller actor
most of FAME's half-frame mask is the video's own background, and merging
keeps the background shortcut it is meant to remove.

Usage::

    python tools/data/make_motion_dataset.py DIR [--size tiny|default]
        [--seed N] [--overwrite] [--sprite-size LOW HIGH]

or, from Python, ``generate(DIR, size='tiny', seed=0)``.

Layout under ``DIR``::

    DIR/
    ├── classes.txt             class names, one a line, in label order
    ├── pretrain.txt            unlabelled pretraining videos
    ├── probe_train.txt         labelled videos for a linear probe or kNN
    ├── probe_val.txt           labelled videos to validate the probe
    ├── test_iid.txt            test videos over seen backgrounds
    ├── test_unseen_bg.txt      test videos over unseen backgrounds
    ├── test_static.txt         one frame of each test_iid video, repeated
    ├── test_bg_only.txt        seen backgrounds without any sprite
    ├── videos/
    │   └── {list}/{index:05d}.mp4
    └── masks/
        └── {list}/{index:05d}.npz

Each list holds ``{list}/{index:05d}.mp4 {label}`` lines, paths relative to
``DIR/videos``: MMAction2's ``VideoDataset`` format, to be read with
``data_prefix=dict(video='DIR/videos')``. Every list carries the true label;
pretraining ignores it. ``test_bg_only`` labels run round-robin over the
classes, as the classes of every other list do (balanced classes).

Videos are 128x128 RGB mp4 files (OpenCV ``mp4v``, intra-only, 25 fps) of 32
frames, 24 for ``--size tiny``; a static background decodes to the same
pixels in every frame. ``masks/{list}/{index:05d}.npz`` holds ``masks``, the
true sprite mask of the video as a bool array of shape (T, H, W); it is all
``False`` for ``test_bg_only``.

Backgrounds come from two disjoint pools. The seen pool holds one background
per pretraining video, so pretraining backgrounds are all distinct. The
labelled videos carry a scene bias, as real action datasets do: each class
owns a few "scenes" of the seen pool (``scenes`` in ``SIZES``), and a
probe, ``test_iid`` or ``test_bg_only`` video of the class is set in one of
them with probability ``SCENE_BIAS`` (otherwise in a seen background that
is no class's scene). In these lists the background partly predicts the
class. The unseen
pool holds one background per ``test_unseen_bg`` video, none of them used
anywhere else, so there the background says nothing about the class.

A background is a procedural texture (smooth noise, stripes, checkerboard
or gradient in muted colours) or, with ``--background-videos DIR``, with
even odds a contrast-reduced crop of a frame of one of the videos in
``DIR``. Those videos are split between the pools, so unseen real crops
come from videos never used for seen ones.

The data is a deterministic function of the seed: each background and each
video draws from its own generator,
``numpy.random.default_rng([seed, stream, index])``. ``pretrain.txt`` is
written last, so its presence marks a complete dataset.
"""
import argparse
import colorsys
import shutil
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import cv2
import decord
import numpy as np
from mmengine.utils import ProgressBar

VIDEO_EXTENSIONS = ('.avi', '.mkv', '.mov', '.mp4', '.webm')

FRAME_SIZE = 128
FPS = 25
SIZES = dict(
    tiny=dict(
        num_frames=24,
        scenes=1,
        pretrain=16,
        probe_train=8,
        probe_val=8,
        test=8),
    default=dict(
        num_frames=32,
        scenes=4,
        pretrain=1000,
        probe_train=1200,
        probe_val=240,
        test=600))
# Lists in the order they are generated; ``pretrain`` is written last.
LISTS = ('probe_train', 'probe_val', 'test_iid', 'test_static',
         'test_unseen_bg', 'test_bg_only', 'pretrain')
# Random streams: one generator per (stream, index) pair. Appending keeps
# the data of older streams unchanged.
STREAMS = ('sources', 'seen_bg', 'unseen_bg') + LISTS + ('appearance', )

SPRITE_SIZE = (0.4, 0.7)  # actor's diameter, fraction of frame (see top)
MAX_SPRITE_SIZE = 0.7  # larger sprites leave an orbit no room in the frame
SPEED = (1.5, 3.0)  # translation, pixels per frame
PERIOD = (10.0, 20.0)  # oscillation and orbit, frames
AMPLITUDE = (10.0, 20.0)  # oscillation amplitude, orbit radius, pixels
SOURCE_FRAMES = 8  # frames decoded from each real source video
SOURCE_SIDE = 256  # short side of the decoded source frames
REAL_PROBABILITY = 0.5  # chance of a real background when sources exist
APPEARANCES = 8  # sprite looks (shape, size, colours) shared by all videos
SCENE_BIAS = 0.5  # chance that a labelled video is set in its class's scene


class Trajectory(NamedTuple):
    """Per-frame pose of the sprite.

    Attributes:
        centers (np.ndarray): Sprite centre in pixels (x, y), shape (T, 2).
        angles (np.ndarray): Clockwise rotation in degrees, shape (T, ).
        scales (np.ndarray): Scale relative to the drawn sprite, shape (T, ).
    """
    centers: np.ndarray
    angles: np.ndarray
    scales: np.ndarray


def _rng(seed: int, stream: str, index: int) -> np.random.Generator:
    """Return the generator of one item of a random stream."""
    return np.random.default_rng([seed, STREAMS.index(stream), index])


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    """Convert an HSV colour (all in [0, 1]) to RGB in [0, 1]."""
    return np.array(
        colorsys.hsv_to_rgb(hue % 1, saturation, value), dtype=np.float32)


def _rotated_grid(rng: np.random.Generator,
                  size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return pixel coordinates of a square image in a randomly turned frame.

    Args:
        rng (np.random.Generator): The image's generator.
        size (int): Side of the image in pixels.

    Returns:
        tuple[np.ndarray, np.ndarray]: Coordinates (u, v) about the image
        centre along two orthogonal random axes, each of shape (size, size).
    """
    coords = np.arange(size, dtype=np.float32) - (size - 1) / 2
    x, y = np.meshgrid(coords, coords)
    angle = rng.uniform(0, np.pi)
    cos, sin = np.cos(angle), np.sin(angle)
    return x * cos + y * sin, y * cos - x * sin


def _noise_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth value noise in [0, 1]."""
    cells = int(rng.integers(3, 12))
    coarse = rng.random((cells, cells), dtype=np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


def _stripes_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """Soft stripes in [0, 1] with a random angle and period."""
    period = rng.uniform(8, 40)
    phase = rng.uniform(0, 2 * np.pi)
    u, _ = _rotated_grid(rng, size)
    return 0.5 + 0.5 * np.sin(2 * np.pi * u / period + phase)


def _checker_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """A checkerboard in {0, 1} with a random angle and cell size."""
    cell = rng.uniform(8, 32)
    u, v = _rotated_grid(rng, size)
    return ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)


def _gradient_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear gradient in [0, 1] along a random direction."""
    ramp, _ = _rotated_grid(rng, size)
    return (ramp - ramp.min()) / np.ptp(ramp)


TEXTURES = (_noise_field, _stripes_field, _checker_field, _gradient_field)


def _texture_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw a procedural texture in two muted colours of moderate contrast.

    Args:
        rng (np.random.Generator): The background's generator.
        size (int): Side of the square image in pixels.

    Returns:
        np.ndarray: RGB image, uint8, shape (size, size, 3).
    """
    field = TEXTURES[rng.integers(len(TEXTURES))](rng, size)
    hue = rng.random()
    value = rng.uniform(0.3, 0.7)
    contrast = rng.uniform(0.15, 0.35) * rng.choice([-1, 1])
    first = _hsv(hue, rng.uniform(0, 0.5), value)
    second = _hsv(hue + rng.uniform(-0.15, 0.15), rng.uniform(0, 0.5),
                  np.clip(value + contrast, 0.1, 0.9))
    image = first + field[..., None] * (second - first)
    return np.round(image * 255).astype(np.uint8)


def _real_background(rng: np.random.Generator, sources: List[np.ndarray],
                     size: int) -> np.ndarray:
    """Crop a real video frame and reduce its contrast.

    Args:
        rng (np.random.Generator): The background's generator.
        sources (list[np.ndarray]): Decoded frames of each source video,
            each of shape (N, h, w, 3) with a short side of at least
            ``size``.
        size (int): Side of the square crop in pixels, after resizing.

    Returns:
        np.ndarray: RGB image, uint8, shape (size, size, 3).
    """
    frames = sources[rng.integers(len(sources))]
    frame = frames[rng.integers(len(frames))]
    height, width = frame.shape[:2]
    side = int(rng.integers(size, min(height, width) + 1))
    top = int(rng.integers(height - side + 1))
    left = int(rng.integers(width - side + 1))
    crop = frame[top:top + side, left:left + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    # Pull the crop towards mid-grey so that a saturated sprite stands out.
    crop = crop.astype(np.float32)
    mean = crop.mean()
    target = mean + 0.3 * (127.5 - mean)
    image = target + rng.uniform(0.5, 0.8) * (crop - mean)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


class BackgroundPool:
    """A fixed set of backgrounds, each drawn from its own generator.

    Args:
        seed (int): Dataset seed.
        stream (str): Name of the pool's random stream.
        size (int): Number of backgrounds.
        sources (list[np.ndarray]): Decoded frames of the pool's real source
            videos; may be empty.
    """

    def __init__(self, seed: int, stream: str, size: int,
                 sources: List[np.ndarray]) -> None:
        self.seed = seed
        self.stream = stream
        self.size = size
        self.sources = sources

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> np.ndarray:
        """Return background ``index``, an RGB uint8 image (H, W, 3)."""
        rng = _rng(self.seed, self.stream, index)
        if self.sources and rng.random() < REAL_PROBABILITY:
            return _real_background(rng, self.sources, FRAME_SIZE)
        return _texture_background(rng, FRAME_SIZE)


@lru_cache(maxsize=1)
def _load_sources(folder: Optional[str]) -> Dict[str, np.ndarray]:
    """Decode a few evenly spaced frames of every video in ``folder``.

    Cached, so that repeated calls in one process (tests) decode the videos
    once.

    Args:
        folder (str, optional): Folder of real videos; None for none.

    Returns:
        dict[str, np.ndarray]: Frames of shape (N, h, w, 3), RGB uint8, with
        a short side of ``SOURCE_SIDE``, by file name in sorted order.

    Raises:
        FileNotFoundError: If ``folder`` is not a folder of videos.
        ValueError: If one of its videos cannot be decoded.
    """
    if folder is None:
        return {}
    if not Path(folder).is_dir():
        raise FileNotFoundError(f'background videos: no such folder: {folder}')
    paths = sorted(
        p for p in Path(folder).glob('*')
        if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not paths:
        raise FileNotFoundError(
            f'background videos: no {"/".join(VIDEO_EXTENSIONS)} file in '
            f'{folder}')
    sources = {}
    for path in paths:
        try:
            reader = decord.VideoReader(str(path))
        except Exception as err:  # decord raises its own DECORDError
            raise ValueError(
                f'background videos: cannot read {path}: {err}') from err
        indices = np.linspace(0, len(reader) - 1, SOURCE_FRAMES).round()
        frames = reader.get_batch(indices.astype(int).tolist()).asnumpy()
        height, width = frames.shape[1:3]
        ratio = SOURCE_SIDE / min(height, width)
        shape = (round(width * ratio), round(height * ratio))
        sources[path.name] = np.stack([
            cv2.resize(frame, shape, interpolation=cv2.INTER_AREA)
            for frame in frames
        ])
    return sources


def _split_sources(names: List[str], seed: int) -> Tuple[List[str], List[str]]:
    """Split source videos into the seen and the unseen pool.

    A third of the videos (at least one when there are two or more) go to
    the unseen pool.

    Args:
        names (list[str]): Names of the source videos.
        seed (int): Dataset seed.

    Returns:
        tuple[list[str], list[str]]: Names of the seen and unseen sources.
    """
    order = [
        names[i] for i in _rng(seed, 'sources', 0).permutation(len(names))
    ]
    num_unseen = max(1, len(names) // 3) if len(names) > 1 else 0
    return sorted(order[num_unseen:]), sorted(order[:num_unseen])


def _shape_outline(rng: np.random.Generator, radius: float) -> np.ndarray:
    """Return the outline of a random shape that fits in a circle.

    The shape is an elongated ellipse, an elongated rectangle, an irregular
    polygon or a star with spikes of random lengths, drawn at a random
    angle that stays fixed through the video.

    Args:
        rng (np.random.Generator): The video's generator.
        radius (float): Radius of the enclosing circle in pixels.

    Returns:
        np.ndarray: Vertices (x, y) around the origin, shape (N, 2).
    """
    kind = rng.integers(4)
    if kind == 0:  # ellipse
        theta = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        axes = radius * np.array([1.0, rng.uniform(0.45, 0.7)])
        return np.stack([np.cos(theta), np.sin(theta)], axis=1) * axes
    if kind == 1:  # rectangle
        half = radius * np.array([0.85, 0.85 * rng.uniform(0.4, 0.7)])
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    if kind == 2:  # irregular polygon
        num = int(rng.integers(3, 7))
        step = 2 * np.pi / num
        theta = np.arange(num) * step + rng.uniform(-0.3, 0.3, num) * step
        radii = radius * rng.uniform(0.7, 1.0, num)
    else:  # star
        num = 2 * int(rng.integers(4, 7))
        theta = np.arange(num) * 2 * np.pi / num
        radii = radius * np.where(
            np.arange(num) % 2, rng.uniform(0.4, 0.6),
            rng.uniform(0.7, 1.0, num))
    return np.stack([np.cos(theta), np.sin(theta)], axis=1) * radii[:, None]


def _sprite_colours(rng: np.random.Generator, size: int) -> np.ndarray:
    """Paint a saturated colour, or two-colour stripes, on a square canvas.

    Args:
        rng (np.random.Generator): The video's generator.
        size (int): Side of the canvas in pixels.

    Returns:
        np.ndarray: RGB image in [0, 1], float32, shape (size, size, 3).
    """
    hue = rng.random()
    first = _hsv(hue, rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.0))
    image = np.broadcast_to(first, (size, size, 3))
    if rng.random() < 0.5:
        return image.copy()
    second = _hsv(hue + rng.uniform(0.25, 0.75), rng.uniform(0.75, 1.0),
                  rng.uniform(0.6, 1.0))
    u, _ = _rotated_grid(rng, size)
    stripes = (u / rng.uniform(6, 12)) % 1 < 0.5
    return np.where(stripes[..., None], second, image)


def _make_sprite(rng: np.random.Generator,
                 radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Draw a sprite of random shape and colours centred on a canvas.

    Args:
        rng (np.random.Generator): The video's generator.
        radius (float): Radius of the circle enclosing the shape in pixels.

    Returns:
        tuple[np.ndarray, np.ndarray]: Colours premultiplied by alpha, float32
        of shape (C, C, 3) in [0, 1], and alpha, float32 of shape (C, C).
    """
    size = int(np.ceil(2 * radius)) + 4
    outline = _shape_outline(rng, radius) + (size - 1) / 2
    alpha = np.zeros((size, size), np.uint8)
    cv2.fillPoly(
        alpha, [np.round(outline * 16).astype(np.int32)],
        255,
        lineType=cv2.LINE_AA,
        shift=4)
    alpha = alpha.astype(np.float32) / 255
    return _sprite_colours(rng, size) * alpha[..., None], alpha


def _translate(rng: np.random.Generator, steps: np.ndarray, radius: float,
               size: int, direction: Tuple[int, int]) -> Trajectory:
    """Move in a straight line at constant speed, staying in the frame."""
    direction = np.array(direction, dtype=np.float64)
    room = size - 2 * radius
    travel = min(rng.uniform(*SPEED) * steps[-1], room)
    slack = room - np.abs(direction) * travel
    start = radius + rng.random(2) * slack + np.maximum(-direction, 0) * travel
    centers = start + np.outer(steps / steps[-1] * travel, direction)
    return Trajectory(centers, np.zeros_like(steps), np.ones_like(steps))


def _oscillate(rng: np.random.Generator, steps: np.ndarray, radius: float,
               size: int, axis: int) -> Trajectory:
    """Swing sinusoidally along one axis (0: x, 1: y) around a fixed point."""
    amplitude = min(rng.uniform(*AMPLITUDE), size / 2 - radius)
    phase = 2 * np.pi * (steps / rng.uniform(*PERIOD) + rng.random())
    center_along = rng.uniform(radius + amplitude, size - radius - amplitude)
    center_across = rng.uniform(radius, size - radius)
    centers = np.stack(
        [center_along + amplitude * np.sin(phase),
         np.full_like(steps, center_across)],
        axis=1)
    if axis == 1:
        centers = centers[:, ::-1].copy()
    return Trajectory(centers, np.zeros_like(steps), np.ones_like(steps))


def _orbit(rng: np.random.Generator, steps: np.ndarray, radius: float,
           size: int, sign: int) -> Trajectory:
    """Circle round a fixed point at constant speed, clockwise for a
    positive sign (image y points down)."""
    orbit = min(rng.uniform(*AMPLITUDE), size / 2 - radius)
    center = rng.uniform(radius + orbit, size - radius - orbit, 2)
    phase = 2 * np.pi * (sign * steps / rng.uniform(*PERIOD) + rng.random())
    centers = center + orbit * np.stack([np.cos(phase), np.sin(phase)], 1)
    return Trajectory(centers, np.zeros_like(steps), np.ones_like(steps))


# Every class moves the whole actor across the frame (see the top).
MOTIONS: Dict[str, Callable[..., Trajectory]] = {
    'translate_right': partial(_translate, direction=(1, 0)),
    'translate_left': partial(_translate, direction=(-1, 0)),
    'translate_up': partial(_translate, direction=(0, -1)),
    'translate_down': partial(_translate, direction=(0, 1)),
    'orbit_clockwise': partial(_orbit, sign=1),
    'orbit_counterclockwise': partial(_orbit, sign=-1),
    'oscillate_horizontal': partial(_oscillate, axis=0),
    'oscillate_vertical': partial(_oscillate, axis=1),
}
CLASSES = tuple(MOTIONS)


def _sprite_affine(center: np.ndarray, angle: float, scale: float,
                   pivot: float) -> np.ndarray:
    """Return the 2x3 matrix mapping the sprite canvas into the frame.

    Image y points down, so a positive angle turns clockwise on screen.
    """
    theta = np.deg2rad(angle)
    linear = scale * np.array([[np.cos(theta), -np.sin(theta)],
                               [np.sin(theta), np.cos(theta)]])
    offset = center - linear @ np.array([pivot, pivot])
    return np.hstack([linear, offset[:, None]])


def _composite(background: np.ndarray, colours: np.ndarray, alpha: np.ndarray,
               trajectory: Trajectory) -> Tuple[np.ndarray, np.ndarray]:
    """Paste the sprite over the background at every pose of a trajectory.

    Args:
        background (np.ndarray): RGB uint8 image of shape (H, W, 3).
        colours (np.ndarray): Premultiplied sprite colours, (C, C, 3).
        alpha (np.ndarray): Sprite alpha in [0, 1], shape (C, C).
        trajectory (Trajectory): Poses of the sprite, T of them.

    Returns:
        tuple[np.ndarray, np.ndarray]: Frames, uint8 of shape (T, H, W, 3),
        and sprite masks (alpha of at least 0.5), bool of shape (T, H, W).
    """
    height, width = background.shape[:2]
    pivot = (alpha.shape[0] - 1) / 2
    base = background.astype(np.float32)
    frames, masks = [], []
    for center, angle, scale in zip(*trajectory):
        matrix = _sprite_affine(center, angle, scale, pivot)
        warped_alpha = cv2.warpAffine(alpha, matrix, (width, height))
        warped = cv2.warpAffine(colours, matrix, (width, height))
        frame = base * (1 - warped_alpha[..., None]) + 255 * warped
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
        masks.append(warped_alpha >= 0.5)
    return np.stack(frames), np.stack(masks)


def render_video(
    rng: np.random.Generator,
    look: np.random.Generator,
    label: int,
    background: np.ndarray,
    num_frames: int,
    sprite_size: Tuple[float, float] = SPRITE_SIZE
) -> Tuple[np.ndarray, np.ndarray]:
    """Render a sprite moving with the motion of class ``label``.

    Args:
        rng (np.random.Generator): The video's generator (motion).
        look (np.random.Generator): A fresh generator of the sprite's
            appearance (shape, size and colours).
        label (int): Index of the class in ``CLASSES``.
        background (np.ndarray): RGB uint8 image of shape (H, W, 3).
        num_frames (int): Number of frames T.
        sprite_size (tuple[float, float]): Range of the sprite's diameter,
            a fraction of the frame side, drawn from ``look``. Defaults to
            ``SPRITE_SIZE``.

    Returns:
        tuple[np.ndarray, np.ndarray]: Frames, uint8 of shape (T, H, W, 3),
        and sprite masks, bool of shape (T, H, W).
    """
    size = background.shape[0]
    radius = look.uniform(*sprite_size) * size / 2
    colours, alpha = _make_sprite(look, radius)
    steps = np.arange(num_frames, dtype=np.float64)
    motion = MOTIONS[CLASSES[label]](rng, steps, radius, size)
    trajectory = motion._replace(angles=motion.angles + rng.uniform(0, 360))
    return _composite(background, colours, alpha, trajectory)


def _write_video(path: Path, frames: np.ndarray) -> None:
    """Write RGB frames as an mp4 file and check that it decodes in full.

    Args:
        path (Path): Output file.
        frames (np.ndarray): RGB uint8 frames of shape (T, H, W, 3).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    # Intra-only coding under a bit rate that never binds, so every frame has
    # the same quantiser: a macroblock whose pixels do not change decodes to
    # the same pixels in every frame. P-frames or rate control would make a
    # static background flicker.
    params = [
        cv2.VIDEOWRITER_PROP_GOP_SIZE, 1, cv2.VIDEOWRITER_PROP_BITRATE,
        10_000_000
    ]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'mp4v'), FPS, (width, height),
        params)
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write mp4v video {path}')
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    num_decoded = len(decord.VideoReader(str(path)))
    if num_decoded != len(frames):
        raise RuntimeError(f'{path} decodes to {num_decoded} frames, '
                           f'{len(frames)} were written')


def _write_sample(root: Path, name: str, frames: np.ndarray,
                  masks: np.ndarray) -> None:
    """Write a video under ``videos/`` and its sprite masks under ``masks/``.

    Args:
        root (Path): Dataset folder.
        name (str): Path of the sample without suffix, e.g.
            ``pretrain/00000``.
        frames (np.ndarray): RGB uint8 frames of shape (T, H, W, 3).
        masks (np.ndarray): Bool sprite masks of shape (T, H, W).
    """
    _write_video(root / 'videos' / f'{name}.mp4', frames)
    mask_path = root / 'masks' / f'{name}.npz'
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(mask_path, masks=masks)


def _make_sample(
    seed: int,
    list_name: str,
    index: int,
    num_frames: int,
    scenes: int,
    seen: BackgroundPool,
    unseen: BackgroundPool,
    sprite_size: Tuple[float, float] = SPRITE_SIZE
) -> Tuple[int, np.ndarray, np.ndarray]:
    """Render video ``index`` of a list, except ``test_static``.

    Pretraining videos take the seen backgrounds in order (each its own),
    ``test_unseen_bg`` videos the unseen ones in order, and a video of the
    other lists draws one of its class's scenes: seen backgrounds
    ``label + num_classes * j`` for ``j < scenes``. Labels run round-robin
    over classes.

    Args:
        seed (int): Dataset seed.
        list_name (str): Name of the video's list.
        index (int): Index of the video in its list.
        num_frames (int): Number of frames T.
        scenes (int): Number of seen backgrounds each class owns.
        seen (BackgroundPool): Backgrounds of the pretraining videos.
        unseen (BackgroundPool): Backgrounds of the ``test_unseen_bg`` videos.
        sprite_size (tuple[float, float]): See :func:`render_video`.

    Returns:
        tuple[int, np.ndarray, np.ndarray]: The label, the frames, uint8 of
        shape (T, H, W, 3), and the sprite masks, bool of shape (T, H, W).
    """
    label = index % len(CLASSES)
    rng = _rng(seed, list_name, index)
    if list_name == 'pretrain':
        background = seen[index]
    elif list_name == 'test_unseen_bg':
        background = unseen[index]
    elif rng.random() < SCENE_BIAS:
        scene = int(rng.integers(scenes))
        background = seen[label + len(CLASSES) * scene]
    else:  # a seen background that is no class's scene
        first = len(CLASSES) * scenes
        background = seen[int(rng.integers(first, len(seen)))]
    if list_name == 'test_bg_only':
        frames = np.repeat(background[None], num_frames, axis=0)
        return label, frames, np.zeros(frames.shape[:3], dtype=bool)
    look = _rng(seed, 'appearance', int(rng.integers(APPEARANCES)))
    return (label, ) + render_video(rng, look, label, background, num_frames,
                                    sprite_size)


def check_sprite_size(sprite_size: Tuple[float, float]) -> None:
    """Refuse a sprite diameter range outside ``(0, MAX_SPRITE_SIZE]``."""
    low, high = sprite_size
    if not 0 < low <= high <= MAX_SPRITE_SIZE:
        raise ValueError(
            f'sprite_size must be (low, high) with 0 < low <= high <= '
            f'{MAX_SPRITE_SIZE} (diameter as a fraction of the frame side), '
            f'got {tuple(sprite_size)}')


def check_dataset(root: Path) -> None:
    """Check that ``root`` holds every list and every listed video.

    Args:
        root (Path): Dataset folder.

    Raises:
        FileNotFoundError: Naming the first missing list or video and how
            many are missing, when the dataset is incomplete (a folder
            that was partly deleted or copied).
    """
    lists = [root / f'{name}.txt' for name in LISTS]
    missing = [str(path) for path in lists if not path.is_file()]
    for path in lists:
        if path.is_file():
            missing += [
                str(root / 'videos' / line.split()[0])
                for line in path.read_text().splitlines()
                if line.strip()
                and not (root / 'videos' / line.split()[0]).is_file()
            ]
    if missing:
        raise FileNotFoundError(
            f'{root} holds an incomplete motion dataset: {len(missing)} '
            f'lists or videos are missing, the first {missing[0]}. Run '
            'tools/data/make_motion_dataset.py with --overwrite to generate '
            'it again.')


def _prepare_root(root: Path, overwrite: bool) -> bool:
    """Check the output folder and clear an old dataset if asked to.

    Args:
        root (Path): Dataset folder.
        overwrite (bool): Whether to replace an existing dataset.

    Returns:
        bool: Whether to generate the dataset.
    """
    if (root / 'pretrain.txt').exists():
        if not overwrite:
            check_dataset(root)
            print(f'{root} already holds a dataset (pretrain.txt exists); '
                  'pass --overwrite to generate it again.')
            return False
        for folder in ('videos', 'masks'):
            shutil.rmtree(root / folder, ignore_errors=True)
        for name in LISTS + ('classes', ):
            (root / f'{name}.txt').unlink(missing_ok=True)
    elif root.exists() and any(root.iterdir()):
        raise FileExistsError(
            f'{root} is not empty and holds no dataset (no pretrain.txt); '
            'choose a new or empty folder, or remove it.')
    root.mkdir(parents=True, exist_ok=True)
    return True


def _summary(root: Path) -> dict:
    """Describe the dataset in ``root`` from its lists.

    Args:
        root (Path): Dataset folder.

    Returns:
        dict: ``root``, ``video_dir``, ``mask_dir``, ``classes`` (names in
        label order), ``lists`` (list file path by list name) and
        ``counts`` (number of videos by list name).
    """
    lists = {name: str(root / f'{name}.txt') for name in LISTS}
    counts = {
        name: len(Path(path).read_text().splitlines())
        for name, path in lists.items()
    }
    return dict(
        root=str(root),
        video_dir=str(root / 'videos'),
        mask_dir=str(root / 'masks'),
        classes=(root / 'classes.txt').read_text().split(),
        lists=lists,
        counts=counts)


def generate(root: str,
             size: str = 'default',
             seed: int = 0,
             progress: bool = True,
             overwrite: bool = False,
             sprite_size: Tuple[float, float] = SPRITE_SIZE,
             background_videos: Optional[str] = None) -> dict:
    """Generate the synthetic motion dataset (see the module docstring).

    Args:
        root (str): Output folder. It must be new or empty, or hold a
            dataset made by this function (see ``overwrite``).
        size (str): ``'tiny'`` (a few seconds) or ``'default'``.
            Defaults to ``'default'``.
        seed (int): Non-negative seed; the same seed gives the same lists
            and frames. Defaults to 0.
        progress (bool): Whether to show a progress bar. Defaults to True.
        overwrite (bool): Whether to replace a dataset already in ``root``;
            without it an existing dataset is kept as it is. Defaults to
            False.
        sprite_size (tuple[float, float]): Range of the sprites' diameter,
            a fraction of the frame side, within ``(0, MAX_SPRITE_SIZE]``.
            Defaults to ``SPRITE_SIZE``, the actor size FAME assumes.
        background_videos (str, optional): Folder of videos whose frames
            half the backgrounds are cropped from; None for textures only.
            Defaults to None.

    Returns:
        dict: Summary of the dataset: ``root``, ``video_dir``, ``mask_dir``,
        ``classes``, ``lists`` (path of each list file) and ``counts``
        (videos in each list).
    """
    if size not in SIZES:
        raise ValueError(f'size must be one of {list(SIZES)}, got {size!r}')
    check_sprite_size(sprite_size)
    sources = _load_sources(background_videos)
    root_path = Path(root)
    if not _prepare_root(root_path, overwrite):
        return _summary(root_path)
    config = SIZES[size]
    counts = dict(
        pretrain=config['pretrain'],
        probe_train=config['probe_train'],
        probe_val=config['probe_val'],
        test_iid=config['test'],
        test_unseen_bg=config['test'],
        test_bg_only=config['test'])
    seen_names, unseen_names = _split_sources(list(sources), seed)
    seen = BackgroundPool(seed, 'seen_bg', counts['pretrain'],
                          [sources[name] for name in seen_names])
    unseen = BackgroundPool(seed, 'unseen_bg', counts['test_unseen_bg'],
                            [sources[name] for name in unseen_names])

    lines: Dict[str, List[str]] = {name: [] for name in LISTS}
    num_frames = config['num_frames']
    bar = ProgressBar(sum(counts.values())) if progress else None
    for list_name, count in counts.items():
        for index in range(count):
            label, frames, masks = _make_sample(seed, list_name, index,
                                                num_frames, config['scenes'],
                                                seen, unseen, sprite_size)
            name = f'{list_name}/{index:05d}'
            _write_sample(root_path, name, frames, masks)
            lines[list_name].append(f'{name}.mp4 {label}\n')
            if list_name == 'test_iid':
                # the middle frame, repeated: the motion removed
                middle = slice(num_frames // 2, num_frames // 2 + 1)
                name = f'test_static/{index:05d}'
                _write_sample(root_path, name,
                              np.repeat(frames[middle], num_frames, axis=0),
                              np.repeat(masks[middle], num_frames, axis=0))
                lines['test_static'].append(f'{name}.mp4 {label}\n')
            if bar is not None:
                bar.update()
    if bar is not None:
        print()

    (root_path / 'classes.txt').write_text(''.join(f'{name}\n'
                                                   for name in CLASSES))
    for list_name in LISTS:  # pretrain.txt last: it marks a whole dataset
        (root_path / f'{list_name}.txt').write_text(''.join(lines[list_name]))
    return _summary(root_path)


def cfg_options(root: str) -> Dict[str, str]:
    """Config keys that point ``configs/fame_r3d_tiny_motion*.py`` at
    the dataset in ``root``: pretraining list and videos, and the probe
    lists of the kNN monitor.

    Args:
        root (str): Dataset folder.

    Returns:
        dict[str, str]: Values by dotted key, for ``Config.merge_from_dict``.
    """
    root_path = Path(root)
    videos = str(root_path / 'videos')
    return {
        'train_dataloader.dataset.ann_file':
        str(root_path / 'pretrain.txt'),
        'train_dataloader.dataset.data_prefix.video':
        videos,
        'val_dataloader.dataset.ann_file':
        str(root_path / 'probe_val.txt'),
        'val_dataloader.dataset.data_prefix.video':
        videos,
        'val_cfg.bank_dataloader.dataset.ann_file':
        str(root_path / 'probe_train.txt'),
        'val_cfg.bank_dataloader.dataset.data_prefix.video':
        videos,
    }


def parse_args() -> argparse.Namespace:
    """Parse command line arguments."""
    parser = argparse.ArgumentParser(
        description='Generate the synthetic motion dataset')
    parser.add_argument('root', help='output folder')
    parser.add_argument(
        '--size', choices=list(SIZES), default='default', help='dataset size')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--sprite-size',
        type=float,
        nargs=2,
        default=SPRITE_SIZE,
        metavar=('LOW', 'HIGH'),
        help='range of the sprites\' diameter, a fraction of the frame side '
        f'(default {SPRITE_SIZE[0]} {SPRITE_SIZE[1]})')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace a dataset that already exists in the folder')
    parser.add_argument(
        '--background-videos',
        metavar='DIR',
        help='folder of videos to crop half the backgrounds from (default: '
        'textures only)')
    return parser.parse_args()


def main() -> None:
    """Generate the dataset and print a summary."""
    args = parse_args()
    try:
        summary = generate(
            args.root,
            size=args.size,
            seed=args.seed,
            overwrite=args.overwrite,
            sprite_size=tuple(args.sprite_size),
            background_videos=args.background_videos)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    print(f'Dataset in {summary["root"]}: {len(summary["classes"])} classes, '
          f'videos under {summary["video_dir"]}')
    for name, path in summary['lists'].items():
        print(f'  {summary["counts"][name]:5d} videos  {path}')


if __name__ == '__main__':
    main()
