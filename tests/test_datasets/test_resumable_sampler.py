# Copyright (c) OpenMMLab. All rights reserved.
from unittest import mock

import pytest
from mmengine.dataset import DefaultSampler

from projects.fame.datasets import ResumableSampler


class SeededKeys:
    takes_sample_seeds = True

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size


def sampler_of_rank(dataset, rank, world_size, **kwargs):
    with mock.patch(
            'mmengine.dataset.sampler.get_dist_info',
            return_value=(rank, world_size)):
        return (ResumableSampler(dataset, seed=3, **kwargs),
                DefaultSampler(dataset, seed=3, **kwargs))


@pytest.mark.parametrize('shuffle', [True, False])
def test_order_is_default_samplers_and_seeds_follow_the_index(shuffle):
    dataset = SeededKeys(11)
    keys = {}
    for rank in range(2):
        resumable, default = sampler_of_rank(dataset, rank, 2, shuffle=shuffle)
        for epoch in range(2):
            resumable.set_epoch(epoch)
            default.set_epoch(epoch)
            pairs = list(resumable)
            assert [i for i, _ in pairs] == list(default)
            assert len(pairs) == len(resumable) == 6
            for index, seed in pairs:
                # One seed per (epoch, index), whichever rank draws it.
                assert keys.setdefault((epoch, index), seed) == seed
    seeds = list(keys.values())
    assert len(set(seeds)) == len(seeds)  # all 22 different


def test_skip_leaves_out_the_first_samples_once():
    dataset = SeededKeys(10)
    sampler, _ = sampler_of_rank(dataset, 0, 1)
    sampler.set_epoch(4)
    full = list(sampler)
    sampler.skip(6)
    assert list(sampler) == full[6:]
    assert list(sampler) == full  # the next pass is whole again
    sampler.skip(6)
    sampler.set_epoch(4)  # a new epoch starts at its beginning
    assert list(sampler) == full


def test_refuses_datasets_without_seeded_keys():
    with pytest.raises(TypeError, match='train_dataloader.sampler'):
        ResumableSampler(list(range(4)))
