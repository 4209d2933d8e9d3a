# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...ops import blur_kernel_size

# Views per video whose keys MoCoRecognizer enqueues every step.
NUM_VIEWS = 2
# The smallest crop whose FAME blur kernel, int(0.1 * S) // 2 * 2 + 1, is
# larger than one pixel.
MIN_CROP_SIZE = next(s for s in range(1, 64) if blur_kernel_size(s) > 1)


@HOOKS.register_module()
class PretrainConfigCheckHook(Hook):
    """Refuse pretraining settings that only show once data and processes
    meet, before the first update, naming the config keys.

    - ``model.head.queue_len`` must be a multiple of the keys enqueued per
      step, ``2 views x train_dataloader.batch_size x world size``, so that
      the queue always holds whole steps of keys (MoCo's condition);
    - the clips must be at least ``MIN_CROP_SIZE`` (20) pixels on their
      short side: below, FAME's blur kernel ``int(0.1 * S) // 2 * 2 + 1``
      is a single pixel, so neither the FAME maps nor the blur augmentation
      are blurred.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._crop_checked = False

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        queue = getattr(getattr(model, 'head', None), 'queue', None)
        batch_size = runner.train_dataloader.batch_size
        if queue is None or batch_size is None:
            return
        queue_len, world_size = queue.shape[0], runner.world_size
        keys_per_step = NUM_VIEWS * batch_size * world_size
        if queue_len % keys_per_step:
            raise ValueError(
                f'model.head.queue_len={queue_len} is not a multiple of the '
                f'{keys_per_step} keys enqueued per step ({NUM_VIEWS} views '
                f'x train_dataloader.batch_size={batch_size} x world size '
                f'{world_size}); use e.g. '
                f'{max(queue_len // keys_per_step, 1) * keys_per_step}')

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
