# Copyright (c) OpenMMLab. All rights reserved.
import glob
import os
import os.path as osp
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_reduce, barrier, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from ..datasets import SKIPPED_VIDEOS
from ..ops import blur_kernel_size
from ..utils import check_state_dict
from .fileio import (lock_work_dir, remove_stale_temporaries, unlock_work_dir,
                     write_atomic)

POINTER = 'last_checkpoint'
# The epoch's [videos read, bad videos] in the message hub (checkpointed).
COUNTS_KEY = 'bad_video_counts'
# The smallest crop whose FAME blur kernel is larger than one pixel (20).
MIN_CROP_SIZE = next(s for s in range(1, 64) if blur_kernel_size(s) > 1)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints and ``last_checkpoint`` pointer
    are replaced atomically (a killed save leaves no truncated file for
    ``--resume auto``), in a work dir locked against a second run. Keep
    ``max_keep_ckpts`` >= 2: MMEngine deletes the oldest checkpoint first.

    Args:
        out_dir (str, optional): As in ``CheckpointHook``. Defaults to None.
        backend_args (dict, optional): As in ``CheckpointHook``. Defaults to
            ``dict(backend='local_atomic')`` for local folders.
        file_client_args (dict, optional): Deprecated. Defaults to None.
        **kwargs: The other arguments of ``CheckpointHook``.
    """

    def __init__(self,
                 out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 file_client_args: Optional[dict] = None,
                 **kwargs) -> None:
        local = out_dir is None or '://' not in str(out_dir)
        if backend_args is None and file_client_args is None and local:
            backend_args = dict(backend='local_atomic')
        super().__init__(
            out_dir=out_dir,
            backend_args=backend_args,
            file_client_args=file_client_args,
            **kwargs)

    def before_run(self, runner) -> None:
        """Lock the work dir; clean up after a crash mid-write (an empty
        ``last_checkpoint`` names the newest checkpoint)."""
        if is_main_process():
            lock_work_dir(runner.work_dir)
            remove_stale_temporaries(runner.work_dir)
            self._repair_pointer(runner)
        barrier()  # every rank reads the pointer when it resumes

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and '://' not in str(self.out_dir):
            lock_work_dir(self.out_dir)
            for path in remove_stale_temporaries(self.out_dir):
                runner.logger.warning(f'Removed {path}, left by a checkpoint '
                                      'write that was killed')

    def after_run(self, runner) -> None:
        if is_main_process():
            unlock_work_dir(runner.work_dir)
            if self.out_dir is not None:
                unlock_work_dir(self.out_dir)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to resume from another model's checkpoint: MMEngine would
        load the weights that fit, and an optimizer state of as many."""
        if not runner._resume:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_state_dict(checkpoint.get('state_dict', {}), model.state_dict())

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():
            # MMEngine rewrites the pointer in place; replace it whole.
            write_atomic(self.last_ckpt.encode(),
                         osp.join(runner.work_dir, POINTER))

    @staticmethod
    def _repair_pointer(runner) -> None:
        pointer = osp.join(runner.work_dir, POINTER)
        if not osp.isfile(pointer) or Path(pointer).read_text().strip():
            return
        checkpoints = glob.glob(osp.join(runner.work_dir, '*.pth'))
        if not checkpoints:
            os.remove(pointer)
            runner.logger.warning(f'Removed {pointer}, which was empty')
            return
        newest = max(checkpoints, key=osp.getmtime)
        write_atomic(newest.encode(), pointer)
        runner.logger.warning(f'{pointer} was empty; it now names {newest}')


@HOOKS.register_module()
class BadVideoHook(Hook):
    """Count and log the videos :class:`RobustRepeatAugDataset` skipped, and
    stop the run when they exceed its ``max_bad_fraction`` of an epoch's
    videos read (checked within an epoch once ``min_videos`` were read).

    Args:
        min_videos (int): Reads before an in-epoch check. Defaults to 1000.
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
        lists = [s.get(SKIPPED_VIDEOS) for s in data_samples]
        lists = [skipped for skipped in lists if skipped is not None]
        bad = sum(map(len, lists))
        return [len(lists) + bad, bad]

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


@HOOKS.register_module()
class PretrainConfigCheckHook(Hook):
    """Refuse, at the first step, training clips whose short side gives
    FAME's blur a one-pixel kernel, naming the config key."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._crop_checked = False

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        if self._crop_checked or data_batch is None:
            return
        self._crop_checked = True
        height, width = data_batch['inputs'][0].shape[-2:]
        if min(height, width) < MIN_CROP_SIZE:
            raise ValueError(
                f'The training clips are {width}x{height} pixels, too small '
                'for FAME\'s blur kernel int(0.1 * S) // 2 * 2 + 1 = '
                f'{blur_kernel_size(min(height, width))}: crops need at least '
                f'{MIN_CROP_SIZE} pixels. Enlarge the crop of '
                'train_dataloader.dataset.pipeline (the Resize scale, '
                '`crop_size` in the configs).')
