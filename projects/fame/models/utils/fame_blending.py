# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence, Tuple, Union

import torch
from mmaction.models.utils.blending_utils import BaseMiniBatchBlending
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from torch import Tensor, nn

from ...ops import (BETA_RANGE, camera_shifts, check_beta, check_beta_range,
                    fame_mask, foreground_mask, merge_foreground_background,
                    shot_cut_ratio)
from ...utils import ConfigError


@MODELS.register_module()
class FAMEBlending(BaseMiniBatchBlending, nn.Module):
    """Foreground-background merging (FAME) of a batch of clips.

    Each clip keeps its moving foreground and takes the background of a
    randomly chosen clip of the same batch (`FAME, CVPR 2022
    <https://arxiv.org/abs/2109.15130>`_). Labels are left unchanged: the
    merged clip still shows its own action.

    It serves two places:

    - :class:`ContrastiveDataPreprocessor` calls :meth:`merge` on view 1 of
      the self-supervised batch, with pixels in [0, 1].
    - the ``blending`` slot of MMAction2's ``ActionDataPreprocessor``, for
      debiased supervised training. That slot receives normalised inputs, so
      pass the preprocessor's ``mean`` and ``std`` here: the masks are
      computed on the recovered pixels, while merging (a per-pixel choice)
      commutes with the per-channel normalisation and runs on the inputs.
      ``mean`` and ``std`` are kept as (non-persistent) buffers, which move
      with the preprocessor to the training device.

    Args:
        beta (float | str): Fraction of each frame kept as foreground, in
            (0, 1], or ``'auto'``: the moving and the static pixels of each
            clip seed the colour histograms and the fraction is the clip's
            own, within ``beta_range``, for actors of any size (see
            :func:`adaptive_foreground_maps`). Defaults to 0.5 (the paper).
        beta_range (Sequence[float]): Bounds ``(low, high)`` of the fraction
            of ``beta='auto'``. Defaults to ``(0.05, 0.5)``.
        prob (float): Probability that a clip is merged; the others pass
            unchanged. 1.0 reproduces the paper, 0.0 is the plain MoCo
            baseline. Defaults to 1.0.
        hue_mode (str): ``'turns'`` (the paper's colour binning) or
            ``'radians'`` (reproduces the released code's hue aliasing, for
            matching its checkpoints). Defaults to ``'turns'``.
        mean (Sequence[float], optional): Per-channel mean of the
            normalised inputs of :meth:`__call__`. Defaults to None (no
            normalisation).
        std (Sequence[float], optional): Per-channel std, as ``mean``.
            Defaults to None.
        max_pixel_value (float): Value of a white pixel before
            normalisation. Defaults to 255.
        max_cut_ratio (float, optional): Leave a clip unmerged when its
            largest frame change is more than this many times its median
            one (:func:`shot_cut_ratio`): a shot cut inside the clip, whose
            motion map would follow the cut. The clips left so are counted
            in :attr:`num_cuts_unmerged` (the last batch's, logged by
            :class:`MoCoRecognizer` as ``fame_cuts_unmerged``). Defaults
            to None: every clip is merged, as in the paper.
        compensate_camera (bool): Find the moving foreground after
            compensating the camera's motion (:func:`camera_shifts`: a
            translation per pair of frames, fitted on the frame's border),
            so that a pan or a shaking camera does not make the whole scene
            "move". The clips so compensated are counted in
            :attr:`num_camera_compensated` (the last batch's, logged by
            :class:`MoCoRecognizer` as ``fame_camera_compensated``).
            Defaults to False (the paper).
    """

    def __init__(self,
                 beta: Union[float, str] = 0.5,
                 beta_range: Sequence[float] = BETA_RANGE,
                 prob: float = 1.0,
                 hue_mode: str = 'turns',
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 max_pixel_value: float = 255.,
                 max_cut_ratio: Optional[float] = None,
                 compensate_camera: bool = False) -> None:
        nn.Module.__init__(self)
        BaseMiniBatchBlending.__init__(self, num_classes=0)
        if not 0 <= prob <= 1:
            raise ConfigError(
                'prob', f'must be in [0, 1], got {prob} (the probability '
                'that FAMEBlending merges a clip)')
        if (mean is None) != (std is None):
            raise ConfigError('mean', 'and std: give both, or none')
        self.beta = check_beta(beta)
        self.beta_range = check_beta_range(beta_range)
        self.prob = prob
        self.hue_mode = hue_mode
        # Buffers, not lists: no host-to-device copy per batch. Not saved in
        # checkpoints: they are config values.
        for name, value in (('mean', mean), ('std', std)):
            if value is not None:
                value = torch.tensor(value, dtype=torch.float32)
                value = value.view(1, -1, 1, 1, 1)
            self.register_buffer(name, value, persistent=False)
        self.max_pixel_value = max_pixel_value
        if max_cut_ratio is not None and not max_cut_ratio > 1:
            raise ConfigError(
                'max_cut_ratio', f'must be above 1 or None, got '
                f'{max_cut_ratio} (the largest frame change over the '
                'median one beyond which a clip is left unmerged)')
        self.max_cut_ratio = max_cut_ratio
        self.num_cuts_unmerged: Optional[Tensor] = None
        self.compensate_camera = compensate_camera
        self.num_camera_compensated: Optional[Tensor] = None

    def merge(self,
              clips: Tensor,
              pixels: Optional[Tensor] = None,
              masks: Optional[Tensor] = None) -> Tensor:
        """Merge each clip's foreground with another clip's background.

        Args:
            clips (Tensor): Clips of shape (N, 3, T, H, W) to merge.
            pixels (Tensor, optional): The same clips as RGB in [0, 1], used
                to find the foreground. Defaults to ``clips``.
            masks (Tensor, optional): Precomputed boolean foreground masks
                of shape (N, H, W), e.g. from the :class:`FAMEMask`
                transform. Defaults to None (computed here).

        Returns:
            Tensor: The merged clips, same shape as ``clips``.
        """
        if self.prob == 0:
            return clips
        if masks is None:
            pixels = clips if pixels is None else pixels
            # float32 even under --amp: half precision blurs change the
            # top-k ranking of the masks.
            with torch.autocast(pixels.device.type, enabled=False):
                if self.beta != 'auto' and not self.compensate_camera:
                    masks = foreground_mask(pixels, self.beta, self.hue_mode)
                else:  # with the options of ops/options.py
                    shifts = None
                    if self.compensate_camera:
                        shifts = camera_shifts(pixels)
                        self.num_camera_compensated = shifts.flatten(1).any(
                            1).float().sum()
                    masks = fame_mask(pixels, self.beta, self.hue_mode,
                                      self.beta_range, shifts)
        if self.prob < 1:
            keep = torch.rand(clips.shape[0], device=clips.device) >= self.prob
            masks = masks | keep[:, None, None]
        if self.max_cut_ratio is not None:
            pixels = clips if pixels is None else pixels
            cuts = shot_cut_ratio(pixels.float()) > self.max_cut_ratio
            self.num_cuts_unmerged = cuts.float().sum()
            masks = masks | cuts[:, None, None]
        return merge_foreground_background(clips, masks)

    def do_blending(self, imgs: Tensor, label: Tensor,
                    **kwargs) -> Tuple[Tensor, Tensor]:
        """Merge a batch of shape (N, [num_clips,] C, T, H, W)."""
        clips = imgs.reshape(-1, *imgs.shape[-4:])
        pixels = clips
        if self.mean is not None:
            mean = self.mean.to(clips.device, clips.dtype)
            std = self.std.to(clips.device, clips.dtype)
            pixels = clips * std + mean
        pixels = (pixels / self.max_pixel_value).clamp(0, 1)
        return self.merge(clips, pixels).view_as(imgs), label

    def __call__(self, imgs: Tensor,
                 batch_data_samples: SampleList) -> Tuple[Tensor, SampleList]:
        """Blend a batch of normalised inputs; data samples are unchanged."""
        imgs, _ = self.do_blending(imgs, None)
        return imgs, batch_data_samples
