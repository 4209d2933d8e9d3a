# Copyright (c) OpenMMLab. All rights reserved.
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from projects.fame import ops
from projects.fame.ops import foreground_mask
from tests.tool_loader import load_tool
from tests.video_files import write_video
from tools import common

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_VIDEOS = REPO_ROOT.parent / 'shared' / 'videos'
CROP = 32
CLIP_LEN = 8
NUM_SHOWN = 4
FPS = 10
SMALL = [
    '--crop-size',
    str(CROP), '--clip-len',
    str(CLIP_LEN), '--frame-interval', '2', '--num-shown',
    str(NUM_SHOWN)
]


@pytest.fixture(scope='module')
def tool() -> ModuleType:
    return load_tool('visualize_fame')


def moving_square(num_frames: int, background: np.ndarray,
                  colour: tuple) -> np.ndarray:
    """A square sliding right over a static background (H, W, 3)."""
    frames = np.repeat(background[None], num_frames, axis=0).copy()
    for t, frame in enumerate(frames):
        frame[14:34, 4 + 2 * t:24 + 2 * t] = colour
    return frames


def rainbow(height: int, width: int) -> np.ndarray:
    """Saturated hues varying along both axes."""
    hue = (np.add.outer(np.arange(height) * 3,
                        np.arange(width) * 2) % 180).astype(np.uint8)
    hsv = np.stack([hue, np.full_like(hue, 220), np.full_like(hue, 200)], -1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('videos')
    gradient = np.zeros((48, 64, 3), np.uint8)
    gradient[..., 1] = np.linspace(40, 160, 64, dtype=np.uint8)
    gradient[..., 2] = 150
    yellow = np.full((48, 64, 3), (200, 190, 40), np.uint8)
    return [
        write_video(root / 'square.avi',
                    moving_square(20, gradient, (230, 30, 30))),
        write_video(root / 'other.avi',
                    moving_square(12, yellow, (250, 250, 250))),
        write_video(root / 'rainbow.avi',
                    moving_square(20, rainbow(48, 64), (20, 20, 20))),
    ]


def read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert('RGB'))


def cell(tool, sheet: np.ndarray, row: int, column: int) -> np.ndarray:
    y, x = tool.cell_origin(row, column, CROP)
    return sheet[y:y + CROP, x:x + CROP]


def decoded_clip(tool, path, seed: int = 0) -> np.ndarray:
    """The clip the tool draws for a video."""
    return common.load_clip(str(path), CLIP_LEN, 2, CROP, seed)['frames']


def reference_mask(frames: np.ndarray,
                   hue_mode: str = 'turns',
                   beta: float = 0.5) -> np.ndarray:
    clip = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].float() / 255
    return foreground_mask(clip, beta, hue_mode)[0].numpy()


def test_sheet_rows_follow_the_fame_op(tool, videos, tmp_path, capsys):
    out = tmp_path / 'out'
    results = tool.main(
        [str(videos[0]), str(videos[1]), '--out',
         str(out)] + SMALL + ['--gif'])
    assert [Path(r['sheet']).name
            for r in results] == ['square.png', 'other.png']
    assert str(out / 'square.gif') in capsys.readouterr().out

    sheet = read_png(out / 'square.png')
    assert sheet.shape == (*tool.sheet_shape(CROP, NUM_SHOWN), 3)
    cells = (NUM_SHOWN + 1) * (CROP + tool.GAP) - tool.GAP
    assert sheet.shape[1] == tool.LABEL_WIDTH + cells
    frames = decoded_clip(tool, videos[0])
    background = decoded_clip(tool, videos[1])
    mask = reference_mask(frames)
    assert mask.sum() == CROP * CROP // 2
    # The mask row's first cell is the op's mask, exactly.
    np.testing.assert_array_equal(
        cell(tool, sheet, 3, 0), np.repeat(mask[..., None] * 255, 3, -1))
    np.testing.assert_array_equal(
        cell(tool, sheet, 4, 0), background[CLIP_LEN // 2])
    shown = np.linspace(0, CLIP_LEN - 1, NUM_SHOWN).round().astype(int)
    for column, t in enumerate(shown, start=1):
        np.testing.assert_array_equal(cell(tool, sheet, 0, column), frames[t])
        # Merged: the clip's pixels inside the mask, the next video's
        # outside.
        expected = np.where(mask[..., None], frames[t], background[t])
        np.testing.assert_array_equal(cell(tool, sheet, 4, column), expected)
    # The square moves, so most of the motion lies inside the mask.
    assert results[0]['motion_inside'] > 0.5

    gif = Image.open(out / 'square.gif')
    assert gif.n_frames == CLIP_LEN
    assert gif.size == (3 * CROP, CROP)
    assert gif.info['duration'] == 1000 * 2 // FPS
    # The last video takes the first one's background.
    merged = cell(tool, read_png(out / 'other.png'), 4, 0)
    np.testing.assert_array_equal(merged, frames[CLIP_LEN // 2])


def test_clip_depends_on_the_name_not_the_position(tool, videos, tmp_path):
    sheets = []
    for order in (videos[:2], videos[1::-1]):
        out = tmp_path / order[0].stem
        tool.main([str(v) for v in order] + ['--out', str(out)] + SMALL)
        sheets.append(read_png(out / 'square.png'))
    for column in range(NUM_SHOWN + 1):
        np.testing.assert_array_equal(
            cell(tool, sheets[0], 0, column), cell(tool, sheets[1], 0, column))


def test_quirk_switches_to_radian_hues(tool, videos, tmp_path):
    frames = decoded_clip(tool, videos[2])
    turns, radians = (
        reference_mask(frames, mode) for mode in ('turns', 'radians'))
    assert (turns != radians).any(), 'the test clip must tell them apart'
    for flags, expected in (([], turns), (['--quirk'], radians)):
        out = tmp_path / f'out{len(flags)}'
        tool.main([str(videos[2]), '--out', str(out)] + SMALL + flags)
        mask_cell = cell(tool, read_png(out / 'rainbow.png'), 3, 0)
        np.testing.assert_array_equal(mask_cell[..., 0], expected * 255)


def test_beta_and_single_video_fallback(tool, videos, tmp_path):
    out = tmp_path / 'out'
    tool.main([str(videos[0]), '--out', str(out), '--beta', '0.25'] + SMALL)
    sheet = read_png(out / 'square.png')
    frames = decoded_clip(tool, videos[0])
    mask = reference_mask(frames, beta=0.25)
    assert mask.sum() == CROP * CROP // 4
    np.testing.assert_array_equal(cell(tool, sheet, 3, 0)[..., 0], mask * 255)
    board = tool.checkerboard(CLIP_LEN, CROP)
    assert len(np.unique(board.reshape(-1, 3), axis=0)) == 2
    np.testing.assert_array_equal(
        cell(tool, sheet, 4, 1), np.where(mask[..., None], frames[0],
                                          board[0]))


def test_palette_png(tool, videos, tmp_path):
    # Many colours (rainbow, heat maps) compete for the 256 entries.
    tool.main([
        str(videos[2]),
        str(videos[0]), '--out',
        str(tmp_path), '--palette', '--crop-size', '64'
    ])
    image = Image.open(tmp_path / 'rainbow.png')
    assert image.mode == 'P'
    assert image.size[::-1] == tool.sheet_shape(64, 8)
    # The thin outlines keep their exact colours.
    pixels = np.asarray(image.convert('RGB')).reshape(-1, 3)
    for colour in (tool.MASK_OUTLINE_COLOUR, tool.BACKGROUND_SEED_COLOUR):
        assert (pixels == colour).all(1).any()


def test_missing_and_unreadable_videos_are_named(tool, videos, tmp_path):
    missing = tmp_path / 'nowhere.mp4'
    with pytest.raises(SystemExit, match='not found: .*nowhere.mp4'):
        tool.main([str(videos[0]), str(missing), '--out', str(tmp_path)])
    assert not list(tmp_path.glob('*.png'))

    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video')
    with pytest.raises(SystemExit) as info:
        tool.main([str(broken), '--out', str(tmp_path / 'out')] + SMALL)
    assert f'cannot read video {broken}' in str(info.value)


@pytest.mark.parametrize(
    'flags', [['--clip-len', '1'], ['--beta', '0'], ['--beta', '1.5'],
              ['--crop-size', '0'], ['--clip-len', '4', '--num-shown', '5']])
def test_bad_arguments(tool, flags, capsys):
    with pytest.raises(SystemExit) as info:
        tool.parse_args(['v.mp4', '--out', 'o'] + flags)
    assert info.value.code == 2
    assert flags[-2] in capsys.readouterr().err


def test_clip_indices_loop_short_videos():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(
        common.clip_indices(5, 4, 2, rng), [0, 2, 4, 1])
    starts = {int(common.clip_indices(20, 4, 3, rng)[0]) for _ in range(200)}
    assert starts == set(range(11))  # the clip spans 10 frames


def test_centre_square_keeps_the_middle():
    frames = np.zeros((2, 40, 120, 3), np.uint8)
    frames[:, :, 40:80] = 255  # the centred square
    square = common.centre_square(frames, 20)
    assert square.shape == (2, 20, 20, 3)
    assert (square == 255).all()


def test_output_names_unique(tool):
    assert tool.output_names(['a/x.mp4', 'b/x.avi',
                              'c/y.mp4']) == ['00_x', '01_x', 'y']


@pytest.mark.skipif(
    not SHARED_VIDEOS.is_dir(), reason='../shared/videos is absent')
def test_real_videos(tool, tmp_path):
    videos = [
        SHARED_VIDEOS / 'carphone_pristine.mp4', SHARED_VIDEOS / 'test.avi'
    ]
    videos = [v for v in videos if v.is_file()]
    if len(videos) < 2:
        pytest.skip('the real test clips are absent')
    results = tool.main([str(v) for v in videos] +
                        ['--out', str(tmp_path), '--crop-size', '64'])
    for result in results:
        sheet = read_png(result['sheet'])
        assert sheet.shape == (*tool.sheet_shape(64, 8), 3)
        assert 0 < result['motion_inside'] < 1


def test_compensate_camera_draws_the_compensated_mask(tool, videos):
    # A pan: the square's clip seen through a window sliding a pixel a
    # frame to the right.
    still = decoded_clip(tool, videos[2])
    panned = np.stack(
        [np.roll(frame, -t, axis=1) for t, frame in enumerate(still)])
    fame = tool.run_fame(panned, still, 0.5, 'turns', compensate_camera=True)
    shifts = ops.camera_shifts(common.to_tensor(panned)[None])
    expected = ops.fame_mask(
        common.to_tensor(panned)[None], 0.5, shifts=shifts)[0].numpy()
    np.testing.assert_array_equal(fame['mask'], expected)
    assert fame['shift'] == pytest.approx(shifts.norm(dim=-1).mean().item())
    assert fame['shift'] > 0.5
    assert tool.run_fame(panned, still, 0.5, 'turns')['shift'] is None


def test_auto_seeds_are_the_moving_and_the_static_pixels(tool, videos):
    clip = decoded_clip(tool, videos[2])
    seeds = tool.run_fame(clip, clip, 'auto', 'turns')['seeds']
    # The op's split: the moving pixels seed the foreground, every other
    # pixel the background.
    np.testing.assert_array_equal(seeds['background'], ~seeds['foreground'])
    assert 0 < seeds['foreground'].mean() <= ops.BETA_RANGE[1]
    fixed = tool.run_fame(clip, clip, 0.5, 'turns')['seeds']
    assert fixed['foreground'].mean() == 0.5
    assert fixed['background'].mean() == pytest.approx(0.1, abs=0.01)
