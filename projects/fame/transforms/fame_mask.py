# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, Sequence, Union

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..ops import (BETA_RANGE, camera_shifts, check_beta, check_beta_range,
                   fame_mask)


@TRANSFORMS.register_module()
class FAMEMask(BaseTransform):
    """Compute the FAME foreground mask of a clip in the data pipeline.

    Use it to move the mask computation from the training device to the
    dataloader workers. Place it after the spatial transforms (crop, flip)
    and before ``FormatShape``, and add ``'fame_mask'`` to the ``meta_keys``
    of ``PackActionInputs``; :class:`ContrastiveDataPreprocessor` then merges
    with these masks instead of computing them.

    Required keys: ``imgs`` (list of RGB uint8 frames of shape (H, W, 3)).
    Added keys: ``fame_mask`` (bool array of shape (H, W)).

    Args:
        beta (float | str): Fraction of pixels marked as foreground, in
            (0, 1], or ``'auto'`` (see :class:`FAMEBlending`). Defaults to
            0.5.
        beta_range (Sequence[float]): Bounds of the fraction of
            ``beta='auto'``. Defaults to ``(0.05, 0.5)``.
        hue_mode (str): ``'turns'`` (paper) or ``'radians'`` (the released
            code's hue quirk). Defaults to ``'turns'``.
        compensate_camera (bool): Compensate the camera's motion (see
            :class:`FAMEBlending`). Defaults to False.
    """

    def __init__(self,
                 beta: Union[float, str] = 0.5,
                 hue_mode: str = 'turns',
                 beta_range: Sequence[float] = BETA_RANGE,
                 compensate_camera: bool = False) -> None:
        self.beta = check_beta(beta)
        self.beta_range = check_beta_range(beta_range)
        self.hue_mode = hue_mode
        self.compensate_camera = compensate_camera

    def transform(self, results: Dict) -> Dict:
        """Add ``fame_mask`` to ``results``."""
        imgs = results['imgs']
        if not isinstance(imgs, list) or imgs[0].ndim != 3 \
                or imgs[0].shape[-1] != 3:
            raise ValueError('FAMEMask needs results["imgs"] as a list of '
                             '(H, W, 3) RGB frames; put it before '
                             'FormatShape in the pipeline')
        # (T, H, W, 3) -> (1, 3, T, H, W) in [0, 1]
        clip = torch.from_numpy(np.stack(imgs)).permute(3, 0, 1, 2)[None]
        clip = clip.float() / 255
        shifts = camera_shifts(clip) if self.compensate_camera else None
        mask = fame_mask(clip, self.beta, self.hue_mode, self.beta_range,
                         shifts)
        results['fame_mask'] = mask[0].numpy()
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(beta={self.beta!r}, '
                f"hue_mode='{self.hue_mode}', beta_range={self.beta_range}, "
                f'compensate_camera={self.compensate_camera})')
