# Copyright (c) OpenMMLab. All rights reserved.
from .fame import (blur_kernel_size, check_beta, colour_bins, foreground_maps,
                   foreground_mask, merge_foreground_background, motion_map)
from .options import (BETA_RANGE, adaptive_foreground_maps, camera_shifts,
                      check_beta_range, fame_mask, otsu_fraction,
                      scene_motion_map, shot_cut_ratio)

__all__ = [
    'BETA_RANGE', 'adaptive_foreground_maps', 'blur_kernel_size',
    'camera_shifts', 'check_beta', 'check_beta_range', 'colour_bins',
    'fame_mask', 'foreground_mask', 'foreground_maps',
    'merge_foreground_background', 'motion_map', 'otsu_fraction',
    'scene_motion_map', 'shot_cut_ratio'
]
