# Copyright (c) OpenMMLab. All rights reserved.
"""Video datasets that treat bad videos as their use needs: pretraining's
:class:`RobustRepeatAugDataset` (with the :class:`ResumableSampler` that
seeds its samples) replaces them, :class:`StrictVideoDataset` names them."""
import logging
import os.path as osp
import random
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Set, Sized, Tuple, Union

import numpy as np
import torch
from mmaction.datasets import RepeatAugDataset, VideoDataset
from mmaction.registry import DATA_SAMPLERS, DATASETS
from mmengine.dataset import DefaultSampler
from mmengine.fileio import list_from_file
from mmengine.logging import print_log

from ..utils import BadVideoError, ConfigError

# Data sample meta key listing the videos replaced to produce a sample.
SKIPPED_VIDEOS = 'skipped_videos'


@contextmanager
def seeded_random_state(seed: Optional[int]) -> Iterator[None]:
    """Seed ``random``, ``numpy`` and ``torch`` inside, restore them after.

    Args:
        seed (int, optional): The seed. None leaves the generators alone.
    """
    if seed is None:
        yield
        return
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class _FrameCountCheck:
    """Wraps the video-opening transform to refuse too short videos."""

    def __init__(self, transform: Any, min_frames: int) -> None:
        self.transform = transform
        self.min_frames = min_frames

    def __call__(self, results: dict) -> dict:
        results = self.transform(results)
        if results['total_frames'] < self.min_frames:
            raise BadVideoError(
                f'{results["total_frames"]} frames, fewer than the '
                f'{self.min_frames} that one clip spans (min_frames)')
        return results

    def __repr__(self) -> str:
        return repr(self.transform)


@DATASETS.register_module()
class RobustRepeatAugDataset(RepeatAugDataset):
    """``RepeatAugDataset`` that replaces bad videos and seeds each sample.

    A video that gives no clip is replaced by a random one, whose data
    sample lists it for :class:`BadVideoHook`. Videos shorter than a clip are
    bad: ``SampleFrames`` would loop them, a jump FAME takes for motion.

    Args:
        num_repeats (int): Clips per video, must be 2. Defaults to 2.
        max_bad_fraction (float): The largest fraction of bad videos in an
            epoch, in [0, 1]. Defaults to 0.05.
        min_frames (int, optional): Videos with fewer frames are bad.
            Defaults to None: the span of a ``SampleFrames`` clip.
        max_refetch (int): Bad videos in a row per sample. Defaults to 10.
        **kwargs: The arguments of ``RepeatAugDataset``.
    """

    takes_sample_seeds = True  # checked by ResumableSampler

    def __init__(self,
                 *args,
                 num_repeats: int = 2,
                 max_bad_fraction: float = 0.05,
                 min_frames: Optional[int] = None,
                 max_refetch: int = 10,
                 **kwargs) -> None:
        if not 0 <= max_bad_fraction <= 1:
            raise ConfigError('train_dataloader.dataset.max_bad_fraction',
                              f'must be in [0, 1], got {max_bad_fraction}')
        if num_repeats != 2:
            # The preprocessor pairs consecutive clips: with 3, some pairs
            # would hold clips of two different videos.
            raise ConfigError(
                'train_dataloader.dataset.num_repeats',
                f'must be 2 (the two views of each video), got {num_repeats}')
        super().__init__(
            *args, num_repeats=num_repeats, max_refetch=max_refetch, **kwargs)
        self.max_bad_fraction = max_bad_fraction
        transforms = self.pipeline.transforms
        if min_frames is None:
            frames = transforms[1]  # SampleFrames
            min_frames = (frames.clip_len - 1) * frames.frame_interval + 1
        self.min_frames = min_frames
        transforms[0] = _FrameCountCheck(transforms[0], min_frames)
        self._warned: Set[str] = set()

    def load_data_list(self) -> List[dict]:
        """As ``VideoDataset``'s, but a label that is not an integer is -1
        (pretraining ignores labels)."""
        data_list = []
        for line in list_from_file(self.ann_file):
            filename, *label = line.strip().split(self.delimiter)
            if self.data_prefix['video'] is not None:
                filename = osp.join(self.data_prefix['video'], filename)
            label = int(label[0]) if label and label[0].isdigit() else -1
            data_list.append(dict(filename=filename, label=label))
        return data_list

    def __getitem__(self, key: Union[int, Tuple[int, int]]) -> List[dict]:
        """The packed clips of the video at ``key`` (an index, or an index and
        a seed), or of a replacement."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        if not self._fully_initialized:
            self.full_init()
        skipped: List[str] = []
        error: Optional[Exception] = None
        with seeded_random_state(seed):
            for _ in range(self.max_refetch + 1):
                try:
                    data = self.prepare_data(index)
                except Exception as err:  # any decoder or file error
                    error = err
                    skipped.append(self._skip(index, err))
                    index = np.random.randint(len(self))
                    continue
                first = data[0].get('data_samples')
                if first is not None:
                    first.set_metainfo({SKIPPED_VIDEOS: skipped})
                return data
        raise RuntimeError(
            f'{len(skipped)} videos in a row could not be read, the last '
            f'{skipped[-1]}: check train_dataloader.dataset.ann_file and '
            'data_prefix, or raise train_dataloader.dataset.max_refetch'
        ) from error

    def _skip(self, index: int, err: Exception) -> str:
        """Warn once about a bad video and return its file name."""
        filename = self.get_data_info(index)['filename']
        if filename not in self._warned:
            self._warned.add(filename)
            print_log(
                f'Skipped video {filename}: {type(err).__name__}: {err}. '
                'Another video replaces it; bad videos are counted in the '
                'epoch log.',
                logger='current',
                level=logging.WARNING)
        return filename


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` that yields ``(index, seed)`` pairs, the seed a
    function of the sampler's seed, the epoch and the index only, and can
    start mid-epoch (:meth:`skip`) without loading the samples before.

    Args:
        dataset (Sized): A dataset that takes ``(index, seed)`` keys.
        shuffle (bool): Whether to shuffle. Defaults to True.
        seed (int, optional): Seeds the shuffle and samples. Defaults to None.
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
        """Leave out this rank's first ``num_samples`` in the next pass."""
        self._start = num_samples


@DATASETS.register_module()
class StrictVideoDataset(VideoDataset):
    """``VideoDataset`` whose errors name the video and its line in
    ``ann_file`` (decord's may not). No video is skipped: a score on part of
    a split would be reported for the whole.

    Args: as ``VideoDataset``.
    """

    def prepare_data(self, idx: int) -> dict:
        try:
            return super().prepare_data(idx)
        except Exception as err:  # any decoder, file or transform error
            filename = self.get_data_info(idx)['filename']
            raise BadVideoError(
                f'cannot read video {filename} (line {idx + 1} of '
                f'{self.ann_file}): {type(err).__name__}: {err}') from err
