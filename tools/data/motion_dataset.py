# Copyright (c) OpenMMLab. All rights reserved.
"""The synthetic motion dataset: a known background bias.

Each video shows a sprite (the actor, 0.4-0.7 of the frame side, one of
``APPEARANCES`` looks) moving over a static background; its class is the
motion alone (``MOTIONS``). ``root`` holds ``classes.txt`` and the lists
``LISTS``, lines ``{list}/{index:05d}.mp4 {label}`` relative to
``root/videos`` (MMAction2's ``VideoDataset``), and the true sprite masks,
``masks/{list}/{index:05d}.npz`` (``masks``, bool (T, H, W)). Videos are
128x128 mp4, intra-only so that a static background decodes the same in
every frame. ``test_static`` repeats the middle frame of each ``test_iid``
video, ``test_bg_only`` holds no sprite.

Each pretraining video has a seen background of its own, each
``test_unseen_bg`` video an unseen one. Each class owns ``scenes`` seen
backgrounds, and a video of the other lists is set in one of its class's
scenes with probability ``SCENE_BIAS`` (else in a seen background of no
class): there the background partly predicts the class. A background is a
procedural texture or, with ``background_videos``, with even odds a crop of
one of those videos (split between the two pools). Each item draws from
``numpy.random.default_rng([seed, stream, index])``; ``pretrain.txt`` is
written last and marks a complete dataset.
"""
import colorsys
import shutil
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import cv2
import decord
import numpy as np
from mmengine.utils import ProgressBar

VIDEO_EXTENSIONS = ('.avi', '.mkv', '.mov', '.mp4', '.webm')
FRAME_SIZE = 128
FPS = 25
# Frames per video, scenes per class, and videos per list (``test``: each).
SIZE_KEYS = ('num_frames', 'scenes', 'pretrain', 'probe_train', 'probe_val',
             'test')
SIZES = dict(
    tiny=dict(zip(SIZE_KEYS, (24, 1, 16, 8, 8, 8))),
    default=dict(zip(SIZE_KEYS, (32, 4, 1000, 1200, 240, 600))))
# Lists in the order they are generated; ``pretrain`` is written last.
LISTS = ('probe_train', 'probe_val', 'test_iid', 'test_static',
         'test_unseen_bg', 'test_bg_only', 'pretrain')
# One generator per (stream, index); appending keeps older streams' data.
STREAMS = ('sources', 'seen_bg', 'unseen_bg') + LISTS + ('appearance', )
SPRITE_SIZE = (0.4, 0.7)  # actor's diameter, fraction of the frame side
# Named ranges of the actor's diameter: the size FAME assumes (about 16 %
# of the frame), and small actors (about 3 %, as in wide shots).
ACTORS = dict(default=SPRITE_SIZE, small=(0.15, 0.3))
MAX_SPRITE_SIZE = 0.7  # larger sprites leave an orbit no room in the frame
SPEED = (1.5, 3.0)  # translation, pixels per frame
PERIOD = (10.0, 20.0)  # oscillation and orbit, frames
AMPLITUDE = (10.0, 20.0)  # oscillation amplitude, orbit radius, pixels
SOURCE_FRAMES = 8  # frames decoded from each real source video
SOURCE_SIDE = 256  # short side of the decoded source frames
REAL_PROBABILITY = 0.5  # chance of a real background when sources exist
APPEARANCES = 8  # sprite looks (shape, size, colours) shared by all videos
SCENE_BIAS = 0.5  # chance that a labelled video is set in its class's scene


def _rng(seed: int, stream: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS.index(stream), index])


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(
        colorsys.hsv_to_rgb(hue % 1, saturation, value), dtype=np.float32)


def _rotated_grid(rng: np.random.Generator,
                  size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u, v) of a square image about its centre, along
    two orthogonal axes at a random angle."""
    coords = np.arange(size, dtype=np.float32) - (size - 1) / 2
    x, y = np.meshgrid(coords, coords)
    angle = rng.uniform(0, np.pi)
    cos, sin = np.cos(angle), np.sin(angle)
    return x * cos + y * sin, y * cos - x * sin


def _noise_field(rng: np.random.Generator, size: int) -> np.ndarray:
    cells = int(rng.integers(3, 12))
    coarse = rng.random((cells, cells), dtype=np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


def _stripes_field(rng: np.random.Generator, size: int) -> np.ndarray:
    period = rng.uniform(8, 40)
    phase = rng.uniform(0, 2 * np.pi)
    u, _ = _rotated_grid(rng, size)
    return 0.5 + 0.5 * np.sin(2 * np.pi * u / period + phase)


def _checker_field(rng: np.random.Generator, size: int) -> np.ndarray:
    cell = rng.uniform(8, 32)
    u, v = _rotated_grid(rng, size)
    return ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)


def _gradient_field(rng: np.random.Generator, size: int) -> np.ndarray:
    ramp, _ = _rotated_grid(rng, size)
    return (ramp - ramp.min()) / np.ptp(ramp)


TEXTURES = (_noise_field, _stripes_field, _checker_field, _gradient_field)


def _texture_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A texture in [0, 1] in two muted colours: uint8 (size, size, 3)."""
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
    """A random square crop of a source frame (N, h, w, 3), resized to
    ``size`` and pulled towards mid-grey so that a sprite stands out."""
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
    crop = crop.astype(np.float32)
    mean = crop.mean()
    target = mean + 0.3 * (127.5 - mean)
    image = target + rng.uniform(0.5, 0.8) * (crop - mean)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def background(seed: int, stream: str, index: int,
               sources: List[np.ndarray]) -> np.ndarray:
    """Background ``index`` of a pool (``stream``), RGB uint8 (H, W, 3);
    with ``sources`` (decoded frames of real videos) it may be a crop."""
    rng = _rng(seed, stream, index)
    if sources and rng.random() < REAL_PROBABILITY:
        return _real_background(rng, sources, FRAME_SIZE)
    return _texture_background(rng, FRAME_SIZE)


@lru_cache(maxsize=1)
def load_sources(folder: Optional[str]) -> Dict[str, np.ndarray]:
    """``SOURCE_FRAMES`` frames (N, h, w, 3) of each video in ``folder``
    at a short side of ``SOURCE_SIDE``, by file name; {} for None. Raises
    FileNotFoundError or ValueError naming a missing folder or bad video."""
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
    """Seen and unseen source names: a third (at least one of two or more)
    are unseen."""
    order = [
        names[i] for i in _rng(seed, 'sources', 0).permutation(len(names))
    ]
    num_unseen = max(1, len(names) // 3) if len(names) > 1 else 0
    return sorted(order[num_unseen:]), sorted(order[:num_unseen])


def _shape_outline(rng: np.random.Generator, radius: float) -> np.ndarray:
    """Vertices (N, 2) about the origin of an elongated ellipse or
    rectangle, an irregular polygon or a star, within ``radius``."""
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
    """A saturated colour or two-colour stripes, float32 (size, size, 3)."""
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
    """A sprite centred on a canvas: colours premultiplied by alpha,
    (C, C, 3), and alpha (C, C), float32 in [0, 1]."""
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


# The motions return the sprite's centre (x, y) in each frame, (T, 2),
# keeping a sprite of ``radius`` in a frame of ``size``.
def _translate(rng: np.random.Generator, steps: np.ndarray, radius: float,
               size: int, direction: Tuple[int, int]) -> np.ndarray:
    direction = np.array(direction, dtype=np.float64)
    room = size - 2 * radius
    travel = min(rng.uniform(*SPEED) * steps[-1], room)
    slack = room - np.abs(direction) * travel
    start = radius + rng.random(2) * slack + np.maximum(-direction, 0) * travel
    return start + np.outer(steps / steps[-1] * travel, direction)


def _oscillate(rng: np.random.Generator, steps: np.ndarray, radius: float,
               size: int, axis: int) -> np.ndarray:
    amplitude = min(rng.uniform(*AMPLITUDE), size / 2 - radius)
    phase = 2 * np.pi * (steps / rng.uniform(*PERIOD) + rng.random())
    center_along = rng.uniform(radius + amplitude, size - radius - amplitude)
    center_across = rng.uniform(radius, size - radius)
    centers = np.stack([
        center_along + amplitude * np.sin(phase),
        np.full_like(steps, center_across)
    ],
                       axis=1)
    return centers[:, ::-1].copy() if axis == 1 else centers


def _orbit(rng: np.random.Generator, steps: np.ndarray, radius: float,
           size: int, sign: int) -> np.ndarray:
    """Clockwise for a positive sign (image y points down)."""
    orbit = min(rng.uniform(*AMPLITUDE), size / 2 - radius)
    center = rng.uniform(radius + orbit, size - radius - orbit, 2)
    phase = 2 * np.pi * (sign * steps / rng.uniform(*PERIOD) + rng.random())
    return center + orbit * np.stack([np.cos(phase), np.sin(phase)], 1)


MOTIONS: Dict[str, Callable[..., np.ndarray]] = {
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


def render_video(
    rng: np.random.Generator,
    look: np.random.Generator,
    label: int,
    background: np.ndarray,
    num_frames: int,
    sprite_size: Tuple[float, float] = SPRITE_SIZE
) -> Tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 of a sprite (its look and diameter, in
    ``sprite_size``, from ``look``) moving over ``background`` with the
    motion of class ``label`` (from ``rng``), and its masks (T, H, W)."""
    height, width = background.shape[:2]
    radius = look.uniform(*sprite_size) * height / 2
    colours, alpha = _make_sprite(look, radius)
    steps = np.arange(num_frames, dtype=np.float64)
    centers = MOTIONS[CLASSES[label]](rng, steps, radius, height)
    # A fixed turn; image y points down, so a positive angle is clockwise.
    theta = np.deg2rad(rng.uniform(0, 360))
    linear = np.array([[np.cos(theta), -np.sin(theta)],
                       [np.sin(theta), np.cos(theta)]])
    pivot = (alpha.shape[0] - 1) / 2
    base = background.astype(np.float32)
    frames, masks = [], []
    for center in centers:
        offset = center - linear @ np.array([pivot, pivot])
        matrix = np.hstack([linear, offset[:, None]])
        warped_alpha = cv2.warpAffine(alpha, matrix, (width, height))
        warped = cv2.warpAffine(colours, matrix, (width, height))
        frame = base * (1 - warped_alpha[..., None]) + 255 * warped
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
        masks.append(warped_alpha >= 0.5)
    return np.stack(frames), np.stack(masks)


def _write_sample(root: Path, name: str, frames: np.ndarray,
                  masks: np.ndarray) -> None:
    """Write ``videos/{name}.mp4`` and ``masks/{name}.npz``; check that the
    video decodes in full."""
    path = root / 'videos' / f'{name}.mp4'
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    # Intra-only under a bit rate that never binds: every frame has the same
    # quantiser, so a static background does not flicker.
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
    mask_path = root / 'masks' / f'{name}.npz'
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(mask_path, masks=masks)


def check_sprite_size(sprite_size: Tuple[float, float]) -> None:
    """Refuse a sprite diameter range outside ``(0, MAX_SPRITE_SIZE]``."""
    low, high = sprite_size
    if not 0 < low <= high <= MAX_SPRITE_SIZE:
        raise ValueError(
            f'sprite_size must be (low, high) with 0 < low <= high <= '
            f'{MAX_SPRITE_SIZE} (diameter as a fraction of the frame side), '
            f'got {tuple(sprite_size)}')


def check_dataset(root: Path) -> None:
    """Raise FileNotFoundError naming the first missing list or listed
    video of ``root`` and how many are missing."""
    lists = [root / f'{name}.txt' for name in LISTS]
    missing = [path for path in lists if not path.is_file()]
    for path in lists:
        lines = path.read_text().splitlines() if path.is_file() else []
        videos = (
            root / 'videos' / line.split()[0] for line in lines
            if line.strip())
        missing += [video for video in videos if not video.is_file()]
    if missing:
        raise FileNotFoundError(
            f'{root} holds an incomplete motion dataset: {len(missing)} '
            f'lists or videos are missing, the first {missing[0]}. Run '
            'tools/data/make_motion_dataset.py with --overwrite to generate '
            'it again.')


def _summary(root: Path) -> dict:
    lists = {name: root / f'{name}.txt' for name in LISTS}
    return dict(
        root=str(root),
        video_dir=str(root / 'videos'),
        mask_dir=str(root / 'masks'),
        classes=(root / 'classes.txt').read_text().split(),
        lists={
            name: str(path)
            for name, path in lists.items()
        },
        counts={
            n: len(p.read_text().splitlines())
            for n, p in lists.items()
        })


def generate(root: str,
             size: str = 'default',
             seed: int = 0,
             progress: bool = True,
             overwrite: bool = False,
             sprite_size: Tuple[float, float] = SPRITE_SIZE,
             background_videos: Optional[str] = None) -> dict:
    """Generate the dataset of ``size`` in ``root`` (new, empty, or holding
    a dataset, kept unless ``overwrite``). Returns its ``root``,
    ``video_dir``, ``mask_dir``, ``classes``, ``lists`` and ``counts``."""
    if size not in SIZES:
        raise ValueError(f'size must be one of {list(SIZES)}, got {size!r}')
    check_sprite_size(sprite_size)
    sources = load_sources(background_videos)
    root_path = Path(root)
    if (root_path / 'pretrain.txt').exists():
        if not overwrite:
            check_dataset(root_path)
            print(f'{root_path} already holds a dataset (pretrain.txt '
                  'exists); pass --overwrite to generate it again.')
            return _summary(root_path)
        for folder in ('videos', 'masks'):
            shutil.rmtree(root_path / folder, ignore_errors=True)
        for name in LISTS + ('classes', ):
            (root_path / f'{name}.txt').unlink(missing_ok=True)
    elif root_path.exists() and any(root_path.iterdir()):
        raise FileExistsError(
            f'{root_path} is not empty and holds no dataset (no '
            'pretrain.txt); choose a new or empty folder, or remove it.')
    root_path.mkdir(parents=True, exist_ok=True)
    config = SIZES[size]
    counts = {
        name: config.get(name, config['test'])
        for name in ('pretrain', 'probe_train', 'probe_val', 'test_iid',
                     'test_unseen_bg', 'test_bg_only')
    }
    seen, unseen = ([sources[name] for name in names]
                    for names in _split_sources(list(sources), seed))
    num_frames, scenes = config['num_frames'], config['scenes']

    def sample(list_name: str,
               index: int) -> Tuple[int, np.ndarray, np.ndarray]:
        """Label, frames and masks of a video; see the module docstring."""
        label = index % len(CLASSES)
        rng = _rng(seed, list_name, index)
        if list_name == 'pretrain':
            image = background(seed, 'seen_bg', index, seen)
        elif list_name == 'test_unseen_bg':
            image = background(seed, 'unseen_bg', index, unseen)
        elif rng.random() < SCENE_BIAS:
            scene = label + len(CLASSES) * int(rng.integers(scenes))
            image = background(seed, 'seen_bg', scene, seen)
        else:  # a seen background that is no class's scene
            other = rng.integers(len(CLASSES) * scenes, counts['pretrain'])
            image = background(seed, 'seen_bg', int(other), seen)
        if list_name == 'test_bg_only':
            frames = np.repeat(image[None], num_frames, axis=0)
            return label, frames, np.zeros(frames.shape[:3], dtype=bool)
        look = _rng(seed, 'appearance', int(rng.integers(APPEARANCES)))
        return (label, ) + render_video(rng, look, label, image, num_frames,
                                        sprite_size)

    lines: Dict[str, List[str]] = {name: [] for name in LISTS}
    bar = ProgressBar(sum(counts.values())) if progress else None
    for list_name, count in counts.items():
        for index in range(count):
            label, frames, masks = sample(list_name, index)
            name = f'{list_name}/{index:05d}'
            _write_sample(root_path, name, frames, masks)
            lines[list_name].append(f'{name}.mp4 {label}\n')
            if list_name == 'test_iid':  # the middle frame, repeated
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


def ensure_dataset(root: Union[str, Path],
                   size: str = 'default',
                   progress: bool = True,
                   sprite_size: Tuple[float, float] = SPRITE_SIZE) -> Path:
    """``root``, where the dataset is generated first (``size``,
    ``sprite_size``, seed 0) if ``root`` holds none, and checked
    (:func:`check_dataset`)."""
    root = Path(root)
    if not (root / 'pretrain.txt').is_file():
        print(f'Generating the {size} motion dataset in {root}', flush=True)
        generate(
            str(root),
            size=size,
            seed=0,
            progress=progress,
            sprite_size=sprite_size)
    check_dataset(root)
    return root


def cfg_options(root: str) -> Dict[str, str]:
    """Config keys pointing ``configs/fame_r3d_tiny_motion*.py`` at the
    dataset in ``root``: pretraining list and videos, and the kNN monitor's
    probe lists, for ``Config.merge_from_dict``."""
    options = {}
    for key, name in (('train_dataloader', 'pretrain'), ('val_dataloader',
                                                         'probe_val'),
                      ('val_cfg.bank_dataloader', 'probe_train')):
        options[f'{key}.dataset.ann_file'] = str(Path(root) / f'{name}.txt')
        options[f'{key}.dataset.data_prefix.video'] = str(
            Path(root) / 'videos')
    return options
