# Copyright (c) OpenMMLab. All rights reserved.
import json
from types import ModuleType

import numpy as np
import pytest
import torch

from projects.fame.ops import foreground_mask, motion_map
from tests.tool_loader import load_tool
from tests.video_files import write_video
from tools import common


@pytest.fixture(scope='module')
def tool() -> ModuleType:
    return load_tool('mask_quality')


@pytest.fixture(scope='module')
def run(tool, tmp_path_factory):
    root = tmp_path_factory.mktemp('mask_quality')
    ground = np.zeros((120, 160, 3), np.uint8)
    ground[..., 1] = np.linspace(40, 160, 160, dtype=np.uint8)
    frames = np.repeat(ground[None], 40, axis=0)
    for t, frame in enumerate(frames):
        frame[40:70, 10 + 3 * t:40 + 3 * t] = (230, 30, 30)
    video = str(write_video(root / 'square.avi', frames))
    out = root / 'out'
    results = tool.main([
        '--out',
        str(out), '--videos', '40', '--crop-size', '32', '--betas', '0.5',
        'auto', '--real', video
    ])
    return out, results, video


def test_score_masks_by_hand():
    truth = torch.zeros(1, 4, 4, dtype=torch.bool)
    truth[0, :2, :2] = True  # 4 pixels
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, :2, 1:4] = True  # 6 pixels, 2 on the sprite
    scores = common.score_masks(mask, truth)
    assert scores['iou'].item() == pytest.approx(2 / 8)
    assert scores['recall'].item() == pytest.approx(2 / 4)
    assert scores['iou_bound'].item() == pytest.approx(4 / 6)
    assert scores['fraction'].item() == pytest.approx(6 / 16)
    assert scores['area'].item() == pytest.approx(4 / 16)


def test_outputs_and_bins(tool, run):
    out, results, _ = run
    on_disk = json.loads((out / 'mask_quality.json').read_text())
    assert on_disk['synthetic'] == results['synthetic']
    assert on_disk['settings']['betas'] == [0.5, 'auto']
    assert (out / 'mask_quality.png').stat().st_size > 0
    table = (out / 'mask_quality.md').read_text()
    assert '| beta 0.5 |' in table and '| beta auto (0.05, 0.5) |' in table
    for beta in ('0.5', 'auto'):
        bins = results['synthetic'][beta]['bins']
        assert [b['bin'] for b in bins
                ] == ['0-5 %', '5-10 %', '10-20 %', '20-30 %', '30-100 %']
        assert sum(b['videos'] for b in bins) == 40
    fixed = results['synthetic']['0.5']['bins']
    # A fixed half-frame mask: its fraction is 50 % in every bin.
    assert all(b['fraction'] == pytest.approx(50) for b in fixed
               if b['videos'])


def test_sprites_of_every_size(tool):
    clips, truths = tool.synthetic_clips(30, (0.15, 0.7), 32, seed=1)
    assert clips.shape == (30, 3, 8, 32, 32) and truths.shape == (30, 32, 32)
    area = truths.flatten(1).float().mean(1)
    assert area.min() < 0.08 and area.max() > 0.3
    again, _ = tool.synthetic_clips(30, (0.15, 0.7), 32, seed=1)
    assert torch.equal(clips, again)


def test_real_video_motion_inside_the_mask(tool, run):
    _, results, video = run
    row, = results['real']
    assert row['video'] == 'square.avi'
    frames = common.load_clip(video, tool.REAL_CLIP_LEN, tool.FRAME_INTERVAL,
                              tool.REAL_CROP_SIZE, 0)['frames']
    clip = torch.from_numpy(frames).permute(3, 0, 1, 2)[None] / 255.
    motion = motion_map(clip)[0]
    mask = foreground_mask(clip, 0.5)[0]
    expected = 100 * (motion[mask].sum() / motion.sum()).item()
    assert row['0.5']['motion_inside'] == pytest.approx(expected)
    assert row['0.5']['fraction'] == pytest.approx(50)
    # The adaptive mask fits the square more tightly: smaller, and denser
    # in motion.
    auto = row['auto']
    assert auto['fraction'] < 50
    assert auto['motion_inside'] / auto['fraction'] > 99 / 50


@pytest.mark.parametrize('flags', [
    ['--betas', 'half'],
    ['--betas', '1.5'],
    ['--beta-range', '0.6', '0.5'],
    ['--sprite-size', '0.2', '0.9'],
    ['--videos', '0'],
    ['--crop-size', '256'],
    ['--camera-speed', '-1'],
    ['--camera-speed', '3'],  # 21 of 64 px over a clip, beyond MAX_PAN
])
def test_bad_arguments(tool, flags, tmp_path, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(['--out', str(tmp_path)] + flags)
    assert 'error' in capsys.readouterr().err


def test_unreadable_real_video_is_named(tool, tmp_path):
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video')
    with pytest.raises(SystemExit, match='bad.mp4'):
        tool.main([
            '--out',
            str(tmp_path / 'out'), '--videos', '2', '--crop-size', '32',
            '--real',
            str(bad)
        ])


def test_missing_background_videos_are_named(tool, tmp_path):
    with pytest.raises(SystemExit, match='no such folder.*missing'):
        tool.main([
            '--out',
            str(tmp_path / 'out'), '--videos', '2', '--background-videos',
            str(tmp_path / 'missing')
        ])
    assert not (tmp_path / 'out' / 'mask_quality.json').exists()


def test_pan_moves_a_window_over_the_frames(tool):
    # Distinct values locate every crop in its frame.
    frames = np.arange(8 * 20 * 20 * 3).reshape(8, 20, 20, 3)
    masks = frames[..., 0] % 7 == 0
    assert tool.pan(frames, masks, 0., np.random.default_rng(0))[0] is frames
    out, out_masks = tool.pan(frames, masks, 1., np.random.default_rng(0))
    assert out.shape == (8, 13, 13, 3)  # 20 - 7 pixels of travel
    offsets = []
    for frame, mask, crop, crop_mask in zip(frames, masks, out, out_masks):
        y, x = divmod((crop[0, 0, 0] - frame[0, 0, 0]) // 3, 20)
        assert np.array_equal(crop, frame[y:y + 13, x:x + 13])
        assert np.array_equal(crop_mask, mask[y:y + 13, x:x + 13])
        offsets.append((y, x))
    steps = np.diff(offsets, axis=0)
    assert np.abs(steps).max() <= 1  # a pixel a frame, rounded
    assert abs(np.hypot(*np.subtract(offsets[-1], offsets[0])) - 7) <= 1


def test_camera_settings_are_recorded(tool, tmp_path):
    results = tool.main([
        '--out',
        str(tmp_path), '--videos', '4', '--crop-size', '32', '--betas', '0.5',
        '--camera-speed', '1', '--compensate-camera'
    ])
    assert results['settings']['camera_speed'] == 1
    assert results['settings']['compensate_camera'] is True
    assert 'Camera panning 1 px a frame; its motion compensated.' in (
        tmp_path / 'mask_quality.md').read_text()
