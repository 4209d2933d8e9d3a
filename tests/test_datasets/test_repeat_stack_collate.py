# Copyright (c) OpenMMLab. All rights reserved.
from typing import List

import numpy as np
import pytest
import torch
from mmaction.datasets import repeat_pseudo_collate
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import FUNCTIONS, init_default_scope
from torch.utils.data import DataLoader, Dataset

import projects.fame  # noqa: F401
from projects.fame.datasets import repeat_stack_collate, stack_clips

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


def test_registered_for_configs():
    assert FUNCTIONS.get('repeat_stack_collate') is repeat_stack_collate


def test_stack_clips():
    clips = [
        torch.full((1, 3, 2, 4, 4), i, dtype=torch.uint8) for i in range(3)
    ]
    stacked = stack_clips(clips)
    assert isinstance(stacked, torch.Tensor)
    assert stacked.shape == (3, 1, 3, 2, 4, 4)
    assert all(torch.equal(a, b) for a, b in zip(stacked, clips))
    # Outside a dataloader worker: ordinary memory.
    assert not stacked.is_shared()


@pytest.mark.parametrize('clips', [
    [torch.zeros(1, 3, 2, 4, 4),
     torch.zeros(1, 3, 2, 4, 5)],
    [torch.zeros(1, 3, 2, 4, 4),
     torch.zeros(1, 3, 2, 4, 4).byte()],
    [torch.zeros(1, 3, 2, 4, 4),
     np.zeros((1, 3, 2, 4, 4))],
    [],
])
def test_stack_clips_falls_back_to_the_list(clips):
    out = stack_clips(clips)
    assert isinstance(out, list)
    assert len(out) == len(clips)
    assert all(a is b for a, b in zip(out, clips))


def test_collate_is_repeat_pseudo_collate_stacked():
    samples = two_view_samples(num_videos=3)
    listed = repeat_pseudo_collate(samples)
    stacked = repeat_stack_collate(samples)
    assert list(stacked) == list(listed) == ['inputs', 'data_samples']
    assert stacked['inputs'].shape == (6, 1, 3, 4, 16, 16)
    assert len(stacked['inputs']) == len(listed['inputs']) == 6
    # Video by video, view 1 then view 2, as repeat_pseudo_collate.
    for a, b in zip(stacked['inputs'], listed['inputs']):
        assert torch.equal(a, b)
    assert all(
        a is b
        for a, b in zip(stacked['data_samples'], listed['data_samples']))


def test_collate_keeps_clips_of_different_shapes_as_a_list():
    samples = two_view_samples(num_videos=2)
    samples[1][0]['inputs'] = samples[1][0]['inputs'][..., :8]
    batch = repeat_stack_collate(samples)
    assert isinstance(batch['inputs'], list)
    assert [x.shape[-1] for x in batch['inputs']] == [16, 16, 8, 16]


@pytest.mark.parametrize('fame,masks', [(True, False), (True, True),
                                        (False, False)])
def test_preprocessor_same_output_for_both_collates(fame, masks):
    """The same batch through repeat_pseudo_collate (a list of clips) and
    repeat_stack_collate (one tensor) gives the same views, FAME and colour
    augmentation included, with the same seed."""
    samples = two_view_samples(num_videos=4, seed=3, masks=masks)
    preprocessor = build_preprocessor(fame=fame)
    outputs = []
    for collate in (repeat_pseudo_collate, repeat_stack_collate):
        torch.manual_seed(0)
        outputs.append(preprocessor(collate(samples), training=True))
    (listed1, listed2), (stacked1, stacked2) = (o['inputs'] for o in outputs)
    assert listed1.shape == (4, 3, 4, 16, 16)
    assert torch.equal(listed1, stacked1)
    assert torch.equal(listed2, stacked2)
    labels = [[s.gt_labels.item.item() for s in o['data_samples']]
              for o in outputs]
    assert labels == [[0, 2, 4, 6]] * 2


def test_preprocessor_leaves_stacked_float_inputs_alone():
    samples = two_view_samples(num_videos=2)
    batch = repeat_stack_collate(samples)
    batch['inputs'] = batch['inputs'].float()
    before = batch['inputs'].clone()
    build_preprocessor()(batch, training=True)
    assert torch.equal(batch['inputs'], before)


def test_preprocessor_not_training_same_output_for_both_forms():
    samples = two_view_samples(num_videos=2)
    preprocessor = build_preprocessor()
    listed = preprocessor(repeat_pseudo_collate(samples), training=False)
    stacked = preprocessor(repeat_stack_collate(samples), training=False)
    assert listed['inputs'].shape == (4, 1, 3, 4, 16, 16)
    assert torch.equal(listed['inputs'], stacked['inputs'])


def test_preprocessor_rejects_bad_stacked_inputs():
    preprocessor = build_preprocessor()
    batch = repeat_stack_collate(two_view_samples(num_videos=2))
    odd = dict(
        inputs=batch['inputs'][:3], data_samples=batch['data_samples'][:3])
    with pytest.raises(ValueError, match='got 3 clips'):
        preprocessor(odd, training=True)
    flat = dict(
        inputs=batch['inputs'][:, 0], data_samples=batch['data_samples'])
    with pytest.raises(ValueError, match='RepeatAugDataset'):
        preprocessor(flat, training=True)


class TwoViewDataset(Dataset):
    """Pre-made two-view samples, for the dataloader workers."""

    def __init__(self, samples: List[List[dict]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> List[dict]:
        return self.samples[index]


def test_stacked_batch_arrives_from_workers_in_shared_memory():
    samples = two_view_samples(num_videos=4, seed=1)
    loader = DataLoader(
        TwoViewDataset(samples),
        batch_size=2,
        num_workers=2,
        collate_fn=repeat_stack_collate)
    batches = list(loader)
    assert len(batches) == 2
    for index, batch in enumerate(batches):
        assert isinstance(batch['inputs'], torch.Tensor)
        # Stacked in the worker, straight into shared memory.
        assert batch['inputs'].is_shared()
        expected = repeat_pseudo_collate(samples[2 * index:2 * index + 2])
        assert all(
            torch.equal(a, b)
            for a, b in zip(batch['inputs'], expected['inputs']))
        labels = [s.gt_labels.item.item() for s in batch['data_samples']]
        assert labels == list(range(4 * index, 4 * index + 4))
