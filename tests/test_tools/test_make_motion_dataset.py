# Copyright (c) OpenMMLab. All rights reserved.
import shutil
import subprocess
import sys
from pathlib import Path

import decord
import numpy as np
import pytest

from tests.video_files import write_video
from tools.data import motion_dataset

NUM_FRAMES = motion_dataset.SIZES['tiny']['num_frames']
PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='DecordDecode')
]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('motion')
    return motion_dataset.generate(
        str(root), size='tiny', seed=0, progress=False)


def read_list(path):
    """Return (relative path, label) pairs of an annotation list."""
    pairs = [line.split() for line in Path(path).read_text().splitlines()]
    return [(rel, int(label)) for rel, label in pairs]


def decode(summary, rel):
    """Decode every frame of a video of the dataset."""
    reader = decord.VideoReader(str(Path(summary['video_dir']) / rel))
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def load_masks(summary, rel):
    """Load the sprite masks of a video of the dataset."""
    path = Path(summary['mask_dir']) / rel.replace('.mp4', '.npz')
    return np.load(path)['masks']


def test_summary(dataset):
    assert dataset['classes'] == list(motion_dataset.CLASSES)
    assert Path(dataset['root'], 'classes.txt').read_text().split() == \
        dataset['classes']
    tiny = motion_dataset.SIZES['tiny']
    assert dataset['counts'] == dict(
        probe_train=tiny['probe_train'],
        probe_val=tiny['probe_val'],
        test_iid=tiny['test'],
        test_static=tiny['test'],
        test_unseen_bg=tiny['test'],
        test_bg_only=tiny['test'],
        pretrain=tiny['pretrain'])
    for name, path in dataset['lists'].items():
        pairs = read_list(path)
        assert len(pairs) == dataset['counts'][name]
        # balanced classes
        labels = np.bincount([label for _, label in pairs], minlength=8)
        assert labels.max() - labels.min() <= 1
        for rel, _ in pairs:
            assert (Path(dataset['video_dir']) / rel).is_file()
            assert load_masks(dataset, rel).shape == (NUM_FRAMES, 128, 128)


@pytest.mark.parametrize('name', motion_dataset.LISTS)
def test_video_dataset(dataset, name):
    from mmaction.datasets import VideoDataset
    from mmaction.utils import register_all_modules
    register_all_modules()
    video_dataset = VideoDataset(
        ann_file=dataset['lists'][name],
        data_prefix=dict(video=dataset['video_dir']),
        pipeline=PIPELINE)
    pairs = read_list(dataset['lists'][name])
    assert len(video_dataset) == len(pairs)
    for i, (_, label) in enumerate(pairs):
        results = video_dataset[i]
        assert results['label'] == label
        assert results['total_frames'] == NUM_FRAMES
        assert len(results['imgs']) == 8
        assert all(img.shape == (128, 128, 3) for img in results['imgs'])


def test_static_lists(dataset):
    for name in ('test_static', 'test_bg_only'):
        for rel, _ in read_list(dataset['lists'][name]):
            frames = decode(dataset, rel)
            assert len(frames) == NUM_FRAMES
            assert (frames == frames[0]).all()
    for rel, _ in read_list(dataset['lists']['test_bg_only']):
        assert not load_masks(dataset, rel).any()
    # test_static repeats the middle frame of the test_iid video
    middle = NUM_FRAMES // 2
    for rel, _ in read_list(dataset['lists']['test_iid']):
        static = rel.replace('test_iid', 'test_static')
        frame = decode(dataset, rel)[middle]
        mask = load_masks(dataset, rel)[middle]
        assert (decode(dataset, static) == frame).all()
        assert (load_masks(dataset, static) == mask).all()


def test_sprites_move(dataset):
    for rel, _ in read_list(dataset['lists']['pretrain']):
        masks = load_masks(dataset, rel)
        assert masks.any(axis=(1, 2)).all()
        assert (masks != masks[0]).any()
        frames = decode(dataset, rel).astype(np.int16)
        change = np.abs(frames - frames[0]).max(axis=-1)
        # pixels the sprite enters or leaves change, the background does not
        assert change[masks != masks[0]].mean() > 20
        assert (change[:, ~masks.any(axis=0)] == 0).mean() > 0.5


@pytest.mark.parametrize('name', motion_dataset.CLASSES)
def test_every_motion_moves_the_whole_sprite(name):
    size, radius = motion_dataset.FRAME_SIZE, 30.0
    steps = np.arange(32, dtype=np.float64)
    for index in range(20):
        rng = np.random.default_rng(index)
        centers = motion_dataset.MOTIONS[name](rng, steps, radius, size)
        # the sprite stays in the frame and travels at least 8 pixels
        assert (centers >= radius - 1e-9).all()
        assert (centers <= size - radius + 1e-9).all()
        assert np.ptp(centers, axis=0).max() >= 8
        step = np.diff(centers, axis=0)
        if name.startswith('translate'):
            direction = dict(
                right=(1, 0), left=(-1, 0), up=(0, -1),
                down=(0, 1))[name.split('_')[1]]
            np.testing.assert_allclose(
                step / np.linalg.norm(step, axis=1, keepdims=True),
                np.tile(direction, (31, 1)),
                atol=1e-9)
        elif name.startswith('orbit'):
            middle = (centers.max(0) + centers.min(0)) / 2
            distance = np.linalg.norm(centers - middle, axis=1)
            assert np.ptp(distance) < 0.05 * distance.mean()
            # image y points down: a positive cross product turns clockwise
            offset = centers[:-1] - middle
            turn = np.sign(offset[:, 0] * step[:, 1] -
                           offset[:, 1] * step[:, 0])
            assert (turn == (1 if name == 'orbit_clockwise' else -1)).all()
        else:
            axis = 0 if name == 'oscillate_horizontal' else 1
            assert np.ptp(centers[:, 1 - axis]) == 0
            assert (np.diff(np.sign(step[:, axis])) != 0).any()


def test_determinism(dataset, tmp_path):
    again = motion_dataset.generate(
        str(tmp_path), size='tiny', seed=0, progress=False)
    for name in motion_dataset.LISTS:
        assert Path(again['lists'][name]).read_bytes() == \
            Path(dataset['lists'][name]).read_bytes()
    samples = ['pretrain/00005.mp4', 'test_unseen_bg/00002.mp4']
    for rel in samples:
        assert (decode(again, rel) == decode(dataset, rel)).all()
        assert (load_masks(again, rel) == load_masks(dataset, rel)).all()

    other = motion_dataset.generate(
        str(tmp_path), size='tiny', seed=1, progress=False, overwrite=True)
    for rel in samples:
        assert (decode(other, rel) != decode(dataset, rel)).any()
        assert (load_masks(other, rel) != load_masks(dataset, rel)).any()


def test_existing_folder(dataset, tmp_path, capsys):
    list_file = Path(dataset['lists']['pretrain'])
    mtime = list_file.stat().st_mtime_ns
    summary = motion_dataset.generate(
        dataset['root'], size='tiny', progress=False)
    assert summary == dataset
    assert list_file.stat().st_mtime_ns == mtime
    assert 'already holds a dataset' in capsys.readouterr().out

    (tmp_path / 'notes.txt').write_text('not a dataset')
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        motion_dataset.generate(str(tmp_path), size='tiny')
    with pytest.raises(ValueError, match='size'):
        motion_dataset.generate(str(tmp_path / 'new'), size='huge')


def test_background_videos(dataset, tmp_path):
    """Half the backgrounds are crops of the given videos, the unseen pool's
    from videos the seen pool never uses; without them, textures only."""
    folder = tmp_path / 'videos'
    folder.mkdir()
    colours = dict(red=(220, 40, 40), green=(40, 220, 40), blue=(40, 40, 220))
    for name, colour in colours.items():
        frames = np.full((6, 72, 96, 3), colour, np.uint8)
        write_video(folder / f'{name}.avi', frames)
    (folder / 'notes.txt').write_text('not a video')
    summary = motion_dataset.generate(
        str(tmp_path / 'motion'),
        size='tiny',
        progress=False,
        background_videos=str(folder))
    assert summary['counts'] == dataset['counts']
    seen, unseen = motion_dataset._split_sources(
        [f'{name}.avi' for name in sorted(colours)], 0)

    def crop_sources(summary, list_name):
        """The source colour of each flat (cropped) background of a list."""
        found = []
        for rel, _ in read_list(summary['lists'][list_name]):
            frames = decode(summary, rel)
            assert frames.shape == (NUM_FRAMES, 128, 128, 3)
            assert load_masks(summary, rel).any(axis=(1, 2)).all()
            frame = frames[0].astype(float)
            free = ~load_masks(summary, rel).any(axis=0)
            free[1:] &= free[:-1]  # one pixel away from the sprite
            free[:-1] &= free[1:]
            pixels = frame[free]
            if pixels.std(axis=0).max() < 3:  # a crop of a one-colour video
                dominant = int(pixels.mean(axis=0).argmax())
                found.append(f'{["red", "green", "blue"][dominant]}.avi')
        return found

    pretrain = crop_sources(summary, 'pretrain')
    assert 3 <= len(pretrain) <= 13  # about half of 16
    assert set(pretrain) <= set(seen)
    test_unseen = crop_sources(summary, 'test_unseen_bg')
    assert test_unseen and set(test_unseen) <= set(unseen)
    assert crop_sources(dataset, 'pretrain') == []  # textures only


@pytest.mark.parametrize('content', [None, b'', b'not a video'])
def test_bad_background_videos_are_named(tmp_path, content):
    folder = tmp_path / 'videos'
    folder.mkdir()
    if content is not None:
        (folder / 'clip.mp4').write_bytes(content)
    match = 'no .avi' if content is None else 'cannot read .*clip.mp4'
    with pytest.raises((FileNotFoundError, ValueError), match=match):
        motion_dataset.generate(
            str(tmp_path / 'motion'),
            size='tiny',
            progress=False,
            background_videos=str(folder))
    assert not (tmp_path / 'motion').exists()
    with pytest.raises(FileNotFoundError, match='no such folder.*missing'):
        motion_dataset.generate(
            str(tmp_path / 'motion'),
            background_videos=str(tmp_path / 'missing'))


def test_scene_bias(dataset):
    """Labelled videos are in their class's scenes or in no class's scene;
    unseen_bg videos in backgrounds seen nowhere else."""
    num_classes = len(dataset['classes'])
    scenes = motion_dataset.SIZES['tiny']['scenes']
    pretrain = read_list(dataset['lists']['pretrain'])

    # pretraining video i is set in seen background i; compare first frames
    # where neither sprite is (nor one pixel around, for the codec's blocks)
    def sprite_free(rel):
        free = ~load_masks(dataset, rel)[0]
        free[1:] &= free[:-1]
        free[:-1] &= free[1:]
        return free

    backgrounds = [(decode(dataset, rel)[0].astype(int), sprite_free(rel))
                   for rel, _ in pretrain]

    def closest_background(rel):
        frame = decode(dataset, rel)[0].astype(int)
        errors = [
            np.abs(frame - bg)[free & sprite_free(rel)].mean()
            for bg, free in backgrounds
        ]
        return int(np.argmin(errors)), min(errors)

    in_scene = 0
    for name in ('probe_train', 'test_iid', 'test_bg_only'):
        for rel, label in read_list(dataset['lists'][name]):
            index, error = closest_background(rel)
            assert error < 2, (rel, error)
            if index < num_classes * scenes:  # a scene: its class's own
                assert index % num_classes == label
                in_scene += 1
    # about SCENE_BIAS of the videos are set in their class's scenes
    assert 0.25 < in_scene / 24 < 0.75
    for rel, _ in read_list(dataset['lists']['test_unseen_bg']):
        assert closest_background(rel)[1] > 2


def test_incomplete_dataset_is_named(dataset, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(dataset['root'], root)
    (root / 'test_iid.txt').unlink()
    (root / 'videos/pretrain/00001.mp4').unlink()
    with pytest.raises(FileNotFoundError, match='2 lists or videos') as err:
        motion_dataset.generate(str(root), size='tiny', progress=False)
    assert str(root / 'test_iid.txt') in str(err.value)
    summary = motion_dataset.generate(
        str(root), size='tiny', progress=False, overwrite=True)
    assert summary['counts'] == dataset['counts']


def test_command_line(dataset, tmp_path):
    """The script runs from any folder; an existing dataset is kept."""
    script = Path(__file__).resolve().parents[2] / (
        'tools/data/make_motion_dataset.py')
    done = subprocess.run([sys.executable, script, dataset['root']],
                          cwd=tmp_path,
                          capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert 'already holds a dataset' in done.stdout
    assert f'16 videos  {dataset["lists"]["pretrain"]}' in done.stdout
    done = subprocess.run(
        [sys.executable, script, tmp_path, '--sprite-size', '0.2', '0.9'],
        capture_output=True,
        text=True)
    assert done.returncode == 1 and 'error: sprite_size' in done.stderr
