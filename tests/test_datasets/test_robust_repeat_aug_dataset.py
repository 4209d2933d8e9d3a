# Copyright (c) OpenMMLab. All rights reserved.
"""Bad videos are skipped, warned about once, replaced and counted."""
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

import projects.fame  # noqa: F401
from projects.fame.datasets import SKIPPED_VIDEOS, ResumableSampler
from projects.fame.engine.hooks import BadVideoHook

NUM_FRAMES, SIZE, CLIP_LEN, INTERVAL = 24, 64, 8, 2
PIPELINE = [
    dict(type='DecordInit', io_backend='disk'),
    dict(
        type='SampleFrames',
        clip_len=CLIP_LEN,
        frame_interval=INTERVAL,
        num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomResizedCrop', area_range=(0.2, 1.0)),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]


def write_video(path: Path, frames: np.ndarray) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'mp4v'), 25, (width, height),
        frames.ndim == 4)
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope='module')
def videos(tmp_path_factory) -> dict:
    """One file of each kind, good and bad; name -> path."""
    root = tmp_path_factory.mktemp('videos')
    rng = np.random.default_rng(0)
    paths = {}
    for i in range(4):
        paths[f'good{i}'] = root / f'good{i}.mp4'
        write_video(
            paths[f'good{i}'],
            rng.integers(0, 256, (NUM_FRAMES, SIZE, SIZE, 3), np.uint8))
    valid = paths['good0'].read_bytes()
    kinds = dict(
        zero_byte=b'',
        corrupt=rng.integers(0, 256, 4096, np.uint8).tobytes(),
        # mp4v keeps its index at the end: a cut file cannot be opened.
        truncated=valid[:len(valid) // 2])
    for name, data in kinds.items():
        paths[name] = root / f'{name}.mp4'
        paths[name].write_bytes(data)
    paths['missing'] = root / 'missing.mp4'
    paths['short'] = root / 'short.mp4'  # 3 frames < one 8x2 clip (15)
    write_video(paths['short'],
                rng.integers(0, 256, (3, SIZE, SIZE, 3), np.uint8))
    # Valid, if unusual: kept.
    paths['static'] = root / 'static.mp4'
    write_video(
        paths['static'],
        np.repeat(
            rng.integers(0, 256, (1, SIZE, SIZE, 3), np.uint8), NUM_FRAMES, 0))
    paths['single_colour'] = root / 'single_colour.mp4'
    write_video(paths['single_colour'],
                np.full((NUM_FRAMES, SIZE, SIZE, 3), 77, np.uint8))
    paths['grayscale'] = root / 'grayscale.mp4'
    write_video(paths['grayscale'],
                rng.integers(0, 256, (NUM_FRAMES, SIZE, SIZE), np.uint8))
    paths['odd_size'] = root / 'odd_size.mp4'  # decodes as 74 x 100
    write_video(paths['odd_size'],
                rng.integers(0, 256, (NUM_FRAMES, 75, 101, 3), np.uint8))
    return paths


BAD = ('zero_byte', 'corrupt', 'truncated', 'missing', 'short')
KEPT = ('good0', 'good1', 'good2', 'good3', 'static', 'single_colour',
        'grayscale', 'odd_size')


def build_dataset(tmp_path: Path,
                  videos: dict,
                  names,
                  num_repeats: int = 2,
                  **kwargs):
    init_default_scope('mmaction')
    ann_file = tmp_path / 'list.txt'
    ann_file.write_text(''.join(f'{videos[n]} 0\n' for n in names))
    return DATASETS.build(
        dict(
            type='RobustRepeatAugDataset',
            ann_file=str(ann_file),
            data_prefix=dict(video=''),
            num_repeats=num_repeats,
            pipeline=PIPELINE,
            **kwargs))


def test_bad_videos_are_replaced_warned_once_and_listed(
        tmp_path, videos, warnings_log):
    names = KEPT + BAD
    dataset = build_dataset(tmp_path, videos, names)
    assert dataset.min_frames == (CLIP_LEN - 1) * INTERVAL + 1
    for epoch in range(2):
        for index, name in enumerate(names):
            clips = dataset[(index, 1000 * epoch + index)]
            assert len(clips) == 2
            for clip in clips:
                assert clip['inputs'].shape == (1, 3, CLIP_LEN, 32, 32)
            skipped = clips[0]['data_samples'].get(SKIPPED_VIDEOS)
            assert SKIPPED_VIDEOS not in clips[1]['data_samples']
            if name in BAD:
                # The bad file first, then possibly more bad replacements.
                assert skipped[0] == str(videos[name])
                assert all(Path(s).stem in BAD for s in skipped)
            else:
                assert skipped == []
    # One warning per bad file, naming it, however often it was drawn.
    for name in BAD:
        mentions = [m for m in warnings_log if str(videos[name]) in m]
        assert len(mentions) == 1, (name, mentions)
        assert mentions[0].startswith(f'Skipped video {videos[name]}')
    assert 'min_frames' in next(m for m in warnings_log if 'short' in m)
    skips = [m for m in warnings_log if m.startswith('Skipped video')]
    assert len(skips) == len(BAD)


def test_short_videos_loop_when_allowed(tmp_path, videos):
    dataset = build_dataset(tmp_path, videos, ['short'], min_frames=1)
    clips = dataset[(0, 0)]
    assert clips[0]['data_samples'].get(SKIPPED_VIDEOS) == []


def test_all_bad_stops_with_a_clear_error(tmp_path, videos):
    dataset = build_dataset(tmp_path, videos, BAD, max_refetch=3)
    with pytest.raises(RuntimeError, match='4 videos in a row') as info:
        dataset[(0, 0)]
    assert 'train_dataloader.dataset.ann_file' in str(info.value)
    with pytest.raises(ValueError, match='max_bad_fraction'):
        build_dataset(tmp_path, videos, BAD, max_bad_fraction=1.5)


def test_labels_are_not_parsed(tmp_path, videos):
    # Pretraining ignores labels: one that is no integer must not stop it.
    dataset = build_dataset(tmp_path, videos, ['good0', 'good1'])
    (tmp_path / 'list.txt').write_text(f'{videos["good0"]} walking\n'
                                       f'{videos["good1"]}\n'
                                       f'{videos["good2"]} 3\n')
    assert [item['label'] for item in dataset.load_data_list()] == [-1, -1, 3]
    assert dataset.load_data_list()[0]['filename'] == str(videos['good0'])


@pytest.mark.parametrize('num_repeats', [1, 3, 4])
def test_num_repeats_other_than_two_is_refused(tmp_path, videos, num_repeats):
    # With 3, the preprocessor's pairs would mix clips of two videos.
    with pytest.raises(
            ValueError,
            match=f'train_dataloader.dataset.num_repeats must be 2 .* got '
            f'{num_repeats}'):
        build_dataset(tmp_path, videos, ['good0'], num_repeats=num_repeats)


def test_a_sample_depends_on_its_seed_only(tmp_path, videos):
    dataset = build_dataset(tmp_path, videos, KEPT)
    reference = dataset[(1, 7)]
    # Other samples and other global random state in between.
    dataset[(2, 8)]
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = (random.getstate(), np.random.get_state()[1].copy(),
             torch.get_rng_state())
    again = dataset[(1, 7)]
    # The caller's generators are left as they were.
    assert random.getstate() == state[0]
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.get_rng_state(), state[2])
    for a, b in zip(reference, again):
        assert torch.equal(a['inputs'], b['inputs'])
    others = [dataset[(1, seed)][0]['inputs'] for seed in range(4)]
    assert not all(torch.equal(others[0], o) for o in others[1:])


def test_valid_unusual_videos_give_finite_training_inputs(tmp_path, videos):
    """Static, single-colour, grayscale and odd-sized videos through FAME and
    the colour augmentation (all of it applied) stay finite."""
    names = ('static', 'single_colour', 'grayscale', 'odd_size')
    dataset = build_dataset(tmp_path, videos, names)
    batch = pseudo_collate(
        [c for i in range(len(names)) for c in dataset[(i, i)]])
    assert all(not s.get(SKIPPED_VIDEOS) for s in batch['data_samples'][::2])
    # Grayscale decodes as three channels, equal up to YUV rounding.
    grey = batch['inputs'][4][0].int()
    assert (grey - grey[:1]).abs().max() <= 4
    preprocessor = MODELS.build(
        dict(
            type='ContrastiveDataPreprocessor',
            grayscale_prob=0.5,
            colour_jitter=dict(
                brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=1.),
            blur_prob=1.))
    torch.manual_seed(0)
    view1, view2 = preprocessor(batch, training=True)['inputs']
    assert view1.shape == view2.shape == (4, 3, CLIP_LEN, 32, 32)
    assert torch.isfinite(view1).all() and torch.isfinite(view2).all()


def test_counts_reach_the_main_process_from_workers(tmp_path, videos):
    """Worker processes return the skipped files inside the samples; the
    hook's count over the batches is the number of bad files drawn."""
    names = KEPT + BAD
    dataset = build_dataset(tmp_path, videos, names)
    sampler = ResumableSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(
        dataset,
        batch_size=4,
        sampler=sampler,
        num_workers=2,
        collate_fn=lambda batch: pseudo_collate(
            [c for clips in batch for c in clips]))
    read = bad = 0
    skipped = []
    for batch in loader:
        counts = BadVideoHook._count(batch['data_samples'])
        read, bad = read + counts[0], bad + counts[1]
        skipped += [
            f for s in batch['data_samples']
            for f in (s.get(SKIPPED_VIDEOS) or [])
        ]
    assert read == len(names) + bad
    # Each bad file was drawn at least once, as itself.
    assert {Path(f).stem for f in skipped} >= set(BAD)
    assert bad == len(skipped)
