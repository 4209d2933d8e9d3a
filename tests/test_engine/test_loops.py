# Copyright (c) OpenMMLab. All rights reserved.
import random
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader

from projects.fame.datasets import ResumableSampler
from projects.fame.engine import ResumableEpochBasedTrainLoop, seed_iteration


class CountingDataset:
    """Returns its keys and counts how many samples were loaded."""
    takes_sample_seeds = True

    def __init__(self, size: int) -> None:
        self.size = size
        self.loaded = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key):
        self.loaded += 1
        return key[0] if isinstance(key, tuple) else key


def loop_over(sampler_type, trained_iters, epoch=1):
    dataset = CountingDataset(12)
    loader = DataLoader(
        dataset, batch_size=3, sampler=sampler_type(dataset, seed=0))
    loader.sampler.set_epoch(epoch)
    full = [b.tolist() for b in loader]
    dataset.loaded = 0
    runner = SimpleNamespace(visualizer=None, seed=0)
    loop = ResumableEpochBasedTrainLoop(runner, loader, max_epochs=3)
    loop._epoch = epoch
    loop._iter = epoch * len(loader) + trained_iters
    loader.sampler.set_epoch(epoch)  # as DistSamplerSeedHook does
    rest = [(i, b.tolist()) for i, b in loop._remaining_batches(trained_iters)]
    return full, rest, dataset.loaded


def test_resumable_sampler_skips_without_loading():
    full, rest, loaded = loop_over(ResumableSampler, 3)
    assert rest == [(3, full[3])]
    assert loaded == 3


def test_other_samplers_load_and_discard():
    full, rest, loaded = loop_over(DefaultSampler, 1)
    assert rest == list(enumerate(full))[1:]
    assert loaded == 12


def test_a_whole_trained_epoch_yields_nothing():
    _, rest, loaded = loop_over(ResumableSampler, 4)
    assert rest == [] and loaded == 0


def draws():
    return (random.random(), np.random.rand(), torch.rand(1).item())


def test_seed_iteration_depends_on_seed_rank_and_step_only():
    seed_iteration(0, 0, 5)
    first = draws()
    draws()  # whatever ran before
    seed_iteration(0, 0, 5)
    assert draws() == first
    others = set()
    for args in [(0, 0, 6), (0, 1, 5), (1, 0, 5)]:
        seed_iteration(*args)
        others.add(draws())
    assert first not in others and len(others) == 3


def test_the_sampler_follows_a_seed_restored_on_resume():
    dataset = CountingDataset(4)
    loader = DataLoader(dataset, sampler=ResumableSampler(dataset, seed=5))
    runner = SimpleNamespace(visualizer=None, seed=5)
    loop = ResumableEpochBasedTrainLoop(runner, loader, max_epochs=1)
    loop._follow_resumed_seed()
    assert loader.sampler.seed == 5
    runner.seed = 9  # ``randomness.seed=None``: restored from the checkpoint
    loop._follow_resumed_seed()
    assert loader.sampler.seed == 9
    # A seed set on the sampler itself is kept.
    loader = DataLoader(dataset, sampler=ResumableSampler(dataset, seed=1))
    loop = ResumableEpochBasedTrainLoop(
        SimpleNamespace(visualizer=None, seed=5), loader, max_epochs=1)
    loop.runner.seed = 9
    loop._follow_resumed_seed()
    assert loader.sampler.seed == 1
