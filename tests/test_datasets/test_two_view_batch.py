# Copyright (c) OpenMMLab. All rights reserved.
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from mmaction.datasets import repeat_pseudo_collate
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.registry import FUNCTIONS, init_default_scope
from torch.utils.data import DataLoader, Dataset

import projects.fame  # noqa: F401

TWO_VIEW_CONFIG = (
    Path(__file__).parents[2] / 'configs' / '_base_' / 'datasets' /
    'kinetics400_two_view.py')

MEAN = (110.2008, 100.63983, 95.99475)
STD = (58.14765, 56.46975, 55.332195)


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


def two_view_samples(num_videos: int = 3,
                     t: int = 4,
                     size: int = 16,
                     seed: int = 0,
                     masks: bool = False) -> List[List[dict]]:
    """Samples as ``RepeatAugDataset(num_repeats=2)`` returns them."""
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    samples = []
    for video in range(num_videos):
        repeats = []
        for view in range(2):
            sample = ActionDataSample().set_gt_labels(
                torch.tensor([2 * video + view]))
            if masks:
                sample.set_metainfo(
                    dict(fame_mask=rng.random((size, size)) > 0.5))
            repeats.append(
                dict(
                    inputs=torch.randint(
                        0,
                        256, (1, 3, t, size, size),
                        generator=gen,
                        dtype=torch.uint8),
                    data_samples=sample))
        samples.append(repeats)
    return samples


def build_preprocessor(fame: bool = True):
    return MODELS.build(
        dict(
            type='ContrastiveDataPreprocessor',
            mean=MEAN,
            std=STD,
            fame=dict(type='FAMEBlending', prob=1. if fame else 0.),
            grayscale_prob=0.5,
            colour_jitter=dict(
                brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=1.),
            blur_prob=1.))


def test_shipped_collate_is_mmaction2s():
    collate = Config.fromfile(str(TWO_VIEW_CONFIG)).train_dataloader.collate_fn
    assert FUNCTIONS.get(collate['type']) is repeat_pseudo_collate


def test_collate_keeps_each_videos_clips_consecutive():
    samples = two_view_samples(num_videos=3)
    batch = repeat_pseudo_collate(samples)
    assert list(batch) == ['inputs', 'data_samples']
    assert len(batch['inputs']) == 6
    # Video by video, view 1 then view 2.
    flat = [item for repeats in samples for item in repeats]
    assert all(a is b['inputs'] for a, b in zip(batch['inputs'], flat))
    assert all(a is b['data_samples']
               for a, b in zip(batch['data_samples'], flat))


@pytest.mark.parametrize('fame,masks', [(True, False), (True, True),
                                        (False, False)])
def test_preprocessor_two_views_of_every_video(fame, masks):
    samples = two_view_samples(num_videos=4, seed=3, masks=masks)
    preprocessor = build_preprocessor(fame=fame)
    torch.manual_seed(0)
    view1, view2 = preprocessor(
        repeat_pseudo_collate(samples), training=True)['inputs']
    assert view1.shape == view2.shape == (4, 3, 4, 16, 16)
    assert view1.is_contiguous() and view2.is_contiguous()
    torch.manual_seed(0)
    again = preprocessor(repeat_pseudo_collate(samples), training=True)
    assert torch.equal(again['inputs'][0], view1)
    assert torch.equal(again['inputs'][1], view2)
    labels = [s.gt_labels.item.item() for s in again['data_samples']]
    assert labels == [0, 2, 4, 6]


def test_preprocessor_leaves_float_inputs_alone():
    batch = repeat_pseudo_collate(two_view_samples(num_videos=2))
    batch['inputs'] = [clip.float() for clip in batch['inputs']]
    before = [clip.clone() for clip in batch['inputs']]
    build_preprocessor()(batch, training=True)
    assert all(torch.equal(a, b) for a, b in zip(batch['inputs'], before))


def test_preprocessor_rejects_bad_inputs():
    preprocessor = build_preprocessor()
    batch = repeat_pseudo_collate(two_view_samples(num_videos=2))
    odd = dict(
        inputs=batch['inputs'][:3], data_samples=batch['data_samples'][:3])
    with pytest.raises(ValueError, match='got 3 clips'):
        preprocessor(odd, training=True)
    flat = dict(
        inputs=[clip[0] for clip in batch['inputs']],
        data_samples=batch['data_samples'])
    with pytest.raises(ValueError, match='RepeatAugDataset'):
        preprocessor(flat, training=True)
    mixed = dict(
        inputs=batch['inputs'][:3] + [batch['inputs'][3][..., :8]],
        data_samples=batch['data_samples'])
    with pytest.raises(ValueError, match='same shape'):
        preprocessor(mixed, training=True)


class TwoViewDataset(Dataset):
    """Pre-made two-view samples, for the dataloader workers."""

    def __init__(self, samples: List[List[dict]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> List[dict]:
        return self.samples[index]


def test_batches_from_workers_keep_the_pairs():
    samples = two_view_samples(num_videos=4, seed=1)
    loader = DataLoader(
        TwoViewDataset(samples),
        batch_size=2,
        num_workers=2,
        collate_fn=repeat_pseudo_collate)
    batches = list(loader)
    assert len(batches) == 2
    for index, batch in enumerate(batches):
        expected = repeat_pseudo_collate(samples[2 * index:2 * index + 2])
        assert all(
            torch.equal(a, b)
            for a, b in zip(batch['inputs'], expected['inputs']))
        labels = [s.gt_labels.item.item() for s in batch['data_samples']]
        assert labels == list(range(4 * index, 4 * index + 4))
