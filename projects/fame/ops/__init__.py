# Copyright (c) OpenMMLab. All rights reserved.
from .fame import (blur_kernel_size, check_beta, colour_bins, foreground_maps,
                   foreground_mask, merge_foreground_background, motion_map)

__all__ = [
    'blur_kernel_size', 'check_beta', 'colour_bins', 'foreground_maps',
    'foreground_mask', 'merge_foreground_background', 'motion_map'
]
