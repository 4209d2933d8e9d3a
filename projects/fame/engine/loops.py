# Copyright (c) OpenMMLab. All rights reserved.
import logging
import random
from typing import Iterable, Sequence, Tuple

import numpy as np
import torch
from mmaction.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop


def seed_iteration(seed: int, rank: int, iteration: int) -> None:
    """Seed ``random``, ``numpy`` and ``torch`` for one training step.

    Args:
        seed (int): The run's seed.
        rank (int): The process rank (each rank draws its own numbers).
        iteration (int): The step, counted over the whole run.
    """
    entropy = np.random.SeedSequence([seed, rank, iteration])
    value = int(entropy.generate_state(1)[0])
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """Epoch-based training loop that resumes exactly where it stopped.

    MMEngine's loop restarts the epoch of a mid-epoch checkpoint. This one
    skips the batches trained on and seeds each step from the seed, rank and
    step; with :class:`ResumableSampler` a resumed run continues bit for bit.

    Args: as ``EpochBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, *args, **kwargs) -> None:
        super().__init__(runner, dataloader, *args, **kwargs)
        # The sampler's seed; a resumed run with ``randomness.seed=None``
        # gives it the restored one.
        self._built_seed = runner.seed

    def run(self):
        self._follow_resumed_seed()
        return super().run()

    def _follow_resumed_seed(self) -> None:
        sampler = self.dataloader.sampler
        if (getattr(sampler, 'seed', None) == self._built_seed
                and self.runner.seed != self._built_seed):
            sampler.seed = self.runner.seed

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        trained = self._iter - self._epoch * len(self.dataloader)
        for idx, data_batch in self._remaining_batches(trained):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        seed_iteration(self.runner.seed, self.runner.rank, self._iter)
        super().run_iter(idx, data_batch)

    def _remaining_batches(self, trained: int) -> Iterable[Tuple[int, dict]]:
        """Enumerate the batches of the epoch after the first ``trained``."""
        if trained <= 0:
            return enumerate(self.dataloader)
        trained = min(trained, len(self.dataloader))
        sampler = self.dataloader.sampler
        batch_size = self.dataloader.batch_size
        if hasattr(sampler, 'skip') and batch_size is not None:
            sampler.skip(trained * batch_size)
            return enumerate(self.dataloader, start=trained)
        print_log(
            f'Resuming in the middle of epoch {self._epoch + 1}: loading '
            f'and discarding the {trained} batches already trained on; '
            'ResumableSampler would skip them without loading them',
            logger='current',
            level=logging.WARNING)
        batches = iter(self.dataloader)
        for _ in range(trained):
            next(batches)
        return enumerate(batches, start=trained)
