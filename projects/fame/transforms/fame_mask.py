# Copyright (c) OpenMMLab. All rights reserved.
"""Transforms that add a clip's foreground mask, bool (H, W), as
``fame_mask``, which :class:`ContrastiveDataPreprocessor` then merges with.
Place them after the spatial transforms and before ``FormatShape``, and add
``'fame_mask'`` to the ``meta_keys`` of ``PackActionInputs``."""
import os.path as osp
from typing import Dict, Sequence, Union

import cv2
import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..ops import (BETA_RANGE, camera_shifts, check_beta, check_beta_range,
                   fame_mask)


@TRANSFORMS.register_module()
class FAMEMask(BaseTransform):
    """Compute FAME's mask of a clip (``imgs``: RGB uint8 frames (H, W, 3))
    in the dataloader workers instead of on the training device.

    Args:
        beta (float | str): Foreground fraction in (0, 1], or ``'auto'``
            (see :class:`FAMEBlending`). Defaults to 0.5.
        hue_mode (str): ``'turns'`` (paper) or ``'radians'`` (the released
            code's hue quirk). Defaults to ``'turns'``.
        beta_range (Sequence[float]): Bounds of the fraction of
            ``beta='auto'``. Defaults to ``(0.05, 0.5)``.
        compensate_camera (bool): Camera compensation. Defaults to False.
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


@TRANSFORMS.register_module()
class LoadForegroundMask(BaseTransform):
    """Load a clip's known foreground mask instead of FAME's estimate: the
    union of the sampled frames' ``masks``, bool (T, H, W), of
    ``{mask_prefix}/{path}.npz`` for ``{video_prefix}/{path}.mp4``, cropped,
    flipped and resized as the frames.

    Args:
        video_prefix (str): The dataset's ``data_prefix['video']``.
        mask_prefix (str): Folder of the mask files, laid out as the videos.
    """

    def __init__(self, video_prefix: str, mask_prefix: str) -> None:
        self.video_prefix = video_prefix
        self.mask_prefix = mask_prefix

    def transform(self, results: Dict) -> Dict:
        relative = osp.relpath(results['filename'], self.video_prefix)
        path = osp.join(self.mask_prefix, osp.splitext(relative)[0] + '.npz')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'LoadForegroundMask: no mask file {path} for video '
                f'{results["filename"]}')
        with np.load(path) as data:
            masks = data['masks']
        frame_inds = np.asarray(results['frame_inds']).reshape(-1)
        if masks.ndim != 3 or frame_inds.max() >= len(masks):
            raise ValueError(
                f'LoadForegroundMask: {path} must hold "masks" of shape '
                f'(T, H, W) with a mask for every frame up to '
                f'{frame_inds.max()}, got shape {masks.shape}')
        union = masks[frame_inds].any(0)
        height, width = union.shape
        x, y, w, h = results.get('crop_quadruple', (0, 0, 1, 1))
        left, top = round(x * width), round(y * height)
        crop = union[top:top + max(round(h * height), 1),
                     left:left + max(round(w * width), 1)]
        out_h, out_w = results['img_shape']
        mask = cv2.resize(
            crop.astype(np.float32), (out_w, out_h),
            interpolation=cv2.INTER_AREA) >= 0.5
        if results.get('flip'):
            direction = results.get('flip_direction', 'horizontal')
            if direction in ('horizontal', 'diagonal'):
                mask = mask[:, ::-1]
            if direction in ('vertical', 'diagonal'):
                mask = mask[::-1]
        results['fame_mask'] = np.ascontiguousarray(mask)
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(video_prefix='{self.video_prefix}'"
                f", mask_prefix='{self.mask_prefix}')")
