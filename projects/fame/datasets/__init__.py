# Copyright (c) OpenMMLab. All rights reserved.
from .robust_repeat_aug_dataset import (SKIPPED_VIDEOS, BadVideoError,
                                        RobustRepeatAugDataset,
                                        seeded_random_state)
from .samplers import ResumableSampler

__all__ = [
    'BadVideoError', 'ResumableSampler', 'RobustRepeatAugDataset',
    'SKIPPED_VIDEOS', 'seeded_random_state'
]
