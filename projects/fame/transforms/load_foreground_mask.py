# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
from typing import Dict

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class LoadForegroundMask(BaseTransform):
    """Load a clip's known foreground mask for FAME to merge with.

    For videos whose foreground is known (the sprites of the synthetic
    motion dataset, or masks from a segmentation model), this replaces
    FAME's estimate: :class:`ContrastiveDataPreprocessor` merges with the
    masks it finds in the data samples, as it does with :class:`FAMEMask`.

    The mask file of ``{video_prefix}/{path}.mp4`` is
    ``{mask_prefix}/{path}.npz``; its array ``masks`` is the foreground of
    every frame of the video, bool of shape (T, H, W) at the video's
    resolution. FAME's mask is one per clip, so the masks of the sampled
    frames (``frame_inds``) are united; the union then follows the crop
    (``crop_quadruple``, relative to the decoded frame), flip and resize
    that the frames went through. Place the transform after the spatial
    transforms and before ``FormatShape``, and add ``'fame_mask'`` to the
    ``meta_keys`` of ``PackActionInputs``.

    Required keys: ``filename``, ``frame_inds``, ``img_shape``; optional
    ``crop_quadruple``, ``flip``, ``flip_direction``.
    Added keys: ``fame_mask`` (bool array of shape (H, W)).

    Args:
        video_prefix (str): Folder the video paths are relative to (the
            dataset's ``data_prefix['video']``).
        mask_prefix (str): Folder of the mask files, laid out as the videos.
    """

    def __init__(self, video_prefix: str, mask_prefix: str) -> None:
        self.video_prefix = video_prefix
        self.mask_prefix = mask_prefix

    def mask_file(self, video: str) -> str:
        """Return the path of the mask file of a video."""
        relative = osp.relpath(video, self.video_prefix)
        return osp.join(self.mask_prefix, osp.splitext(relative)[0] + '.npz')

    def transform(self, results: Dict) -> Dict:
        """Add ``fame_mask`` to ``results``."""
        path = self.mask_file(results['filename'])
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
