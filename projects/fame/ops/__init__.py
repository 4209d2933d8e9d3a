# Copyright (c) OpenMMLab. All rights reserved.
from .fame import (BETA_RANGE, adaptive_foreground_maps, blur_kernel_size,
                   camera_shifts, check_beta, check_beta_range, colour_bins,
                   foreground_maps, foreground_mask,
                   merge_foreground_background, motion_map, otsu_fraction,
                   shot_cut_ratio)

__all__ = [
    'BETA_RANGE', 'blur_kernel_size', 'camera_shifts', 'check_beta',
    'check_beta_range', 'colour_bins', 'adaptive_foreground_maps',
    'foreground_maps', 'foreground_mask', 'merge_foreground_background',
    'motion_map', 'otsu_fraction', 'shot_cut_ratio'
]
