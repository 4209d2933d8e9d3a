# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from ...datasets import SKIPPED_VIDEOS

# Message hub key of the epoch's [videos read, bad videos]; saved in
# checkpoints, so a run resumed mid-epoch keeps counting.
COUNTS_KEY = 'bad_video_counts'


@HOOKS.register_module()
class BadVideoHook(Hook):
    """Count and log the videos :class:`RobustRepeatAugDataset` skipped (as
    its data samples list them), and stop the run when they exceed its
    ``max_bad_fraction`` of an epoch's videos read: at the epoch's end, and
    within it once ``min_videos`` were read.

    Args:
        min_videos (int): Videos to read in an epoch before the fraction is
            checked within it. Defaults to 1000.
    """

    def __init__(self, min_videos: int = 1000) -> None:
        self.min_videos = min_videos
        self.max_bad_fraction: Optional[float] = None

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        self.max_bad_fraction = getattr(dataset, 'max_bad_fraction', None)

    def before_train_epoch(self, runner) -> None:
        if self.max_bad_fraction is None:
            return
        loop = runner.train_loop
        resumed_mid_epoch = loop.iter > loop.epoch * len(loop.dataloader)
        counts = runner.message_hub.get_info(COUNTS_KEY)
        if not resumed_mid_epoch or counts is None:
            runner.message_hub.update_info(COUNTS_KEY, [0, 0])

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.max_bad_fraction is None or data_batch is None:
            return
        counts = torch.tensor(self._count(data_batch['data_samples']))
        if get_world_size() > 1:
            all_reduce(counts, op='sum')
        read, bad = (torch.tensor(runner.message_hub.get_info(COUNTS_KEY)) +
                     counts.cpu()).tolist()
        runner.message_hub.update_info(COUNTS_KEY, [read, bad])
        if read >= self.min_videos:
            self._check(runner, read, bad)

    def after_train_epoch(self, runner) -> None:
        if self.max_bad_fraction is None:
            return
        read, bad = runner.message_hub.get_info(COUNTS_KEY)
        runner.logger.info(
            f'Epoch {runner.epoch + 1}: {bad} of {read} videos read could '
            f'not be used and were replaced ({self._percent(read, bad)})')
        self._check(runner, read, bad)

    @staticmethod
    def _count(data_samples: Sequence) -> list:
        """[videos read, bad videos] of one process's batch."""
        read = bad = 0
        for sample in data_samples:
            skipped = sample.get(SKIPPED_VIDEOS)
            if skipped is not None:
                read += 1 + len(skipped)
                bad += len(skipped)
        return [read, bad]

    @staticmethod
    def _percent(read: int, bad: int) -> str:
        return f'{100 * bad / max(read, 1):.2f} %'

    def _check(self, runner, read: int, bad: int) -> None:
        if bad > self.max_bad_fraction * read:
            raise RuntimeError(
                f'Stopping: {bad} of the {read} videos read in epoch '
                f'{runner.epoch + 1} could not be used '
                f'({self._percent(read, bad)}), more than '
                'train_dataloader.dataset.max_bad_fraction='
                f'{self.max_bad_fraction}. The warnings above name the '
                'files: repair them or remove them from the annotation file, '
                'or raise the limit.')
