# Copyright (c) OpenMMLab. All rights reserved.
from .robust_repeat_aug_dataset import (SKIPPED_VIDEOS, ResumableSampler,
                                        RobustRepeatAugDataset,
                                        seeded_random_state)
from .strict_video_dataset import StrictVideoDataset

__all__ = [
    'ResumableSampler', 'RobustRepeatAugDataset', 'SKIPPED_VIDEOS',
    'StrictVideoDataset', 'seeded_random_state'
]
