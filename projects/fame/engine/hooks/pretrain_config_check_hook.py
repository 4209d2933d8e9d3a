# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from ...ops import blur_kernel_size

# The smallest crop whose FAME blur kernel is larger than one pixel.
MIN_CROP_SIZE = next(s for s in range(1, 64) if blur_kernel_size(s) > 1)


@HOOKS.register_module()
class PretrainConfigCheckHook(Hook):
    """Refuse, at the first step and naming the config key, training clips
    too small for FAME.

    Below ``MIN_CROP_SIZE`` (20) pixels on the short side, FAME's blur
    kernel ``int(0.1 * S) // 2 * 2 + 1`` is a single pixel, so neither the
    FAME maps nor the blur augmentation are blurred.
    """

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
