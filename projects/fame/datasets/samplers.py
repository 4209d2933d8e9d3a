# Copyright (c) OpenMMLab. All rights reserved.
from typing import Iterator, Optional, Sized, Tuple

import numpy as np
import torch
from mmaction.registry import DATA_SAMPLERS
from mmengine.dataset import DefaultSampler


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` that seeds every sample and can start mid-epoch.

    It yields ``(index, seed)`` pairs in ``DefaultSampler``'s order; a
    sample's seed depends on the sampler's seed, the epoch and the index
    only, and :class:`RobustRepeatAugDataset` seeds the sample's random
    draws with it. :meth:`skip` makes the next pass start after the samples
    a resumed checkpoint has trained on, without loading them.

    Args:
        dataset (Sized): A dataset that takes ``(index, seed)`` keys.
        shuffle (bool): Whether to shuffle. Defaults to True.
        seed (int, optional): Seed of the shuffle and the sample seeds, the
            same on every process. Defaults to None (drawn and synchronised).
        round_up (bool): As in ``DefaultSampler``. Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        if not getattr(dataset, 'takes_sample_seeds', False):
            raise TypeError(
                'train_dataloader.sampler: ResumableSampler yields (index, '
                f'seed) pairs, which {type(dataset).__name__} does not take; '
                'use RobustRepeatAugDataset as train_dataloader.dataset')
        super().__init__(
            dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        self._start = 0

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        indices = list(super().__iter__())[self._start:]
        self._start = 0
        entropy = np.random.SeedSequence([self.seed, self.epoch])
        generator = torch.Generator().manual_seed(
            int(entropy.generate_state(1)[0]))
        seeds = torch.randint(
            2**31, (len(self.dataset), ), generator=generator).tolist()
        return iter([(index, seeds[index]) for index in indices])

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self._start = 0

    def skip(self, num_samples: int) -> None:
        """Make the next pass leave out this rank's first ``num_samples``."""
        self._start = num_samples
