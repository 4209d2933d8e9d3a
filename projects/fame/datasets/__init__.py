# Copyright (c) OpenMMLab. All rights reserved.
from .collate import repeat_stack_collate, stack_clips
from .robust_repeat_aug_dataset import (SKIPPED_VIDEOS, BadVideoError,
                                        RobustRepeatAugDataset,
                                        seeded_random_state)
from .samplers import ResumableSampler

__all__ = [
    'BadVideoError', 'ResumableSampler', 'RobustRepeatAugDataset',
    'SKIPPED_VIDEOS', 'repeat_stack_collate', 'seeded_random_state',
    'stack_clips'
]
