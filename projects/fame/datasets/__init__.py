# Copyright (c) OpenMMLab. All rights reserved.
from .video_datasets import (SKIPPED_VIDEOS, ResumableSampler,
                             RobustRepeatAugDataset, StrictVideoDataset,
                             seeded_random_state)

__all__ = [
    'ResumableSampler', 'RobustRepeatAugDataset', 'SKIPPED_VIDEOS',
    'StrictVideoDataset', 'seeded_random_state'
]
