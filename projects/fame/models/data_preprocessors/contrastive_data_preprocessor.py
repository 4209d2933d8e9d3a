# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, Optional, Sequence, Tuple

import kornia.augmentation as K
import torch
from mmaction.models import ActionDataPreprocessor
from mmaction.registry import MODELS
from torch import Tensor

from ...ops import blur_kernel_size
from ...utils import ConfigError, config_scope


@MODELS.register_module()
class ContrastiveDataPreprocessor(ActionDataPreprocessor):
    """Two-view data preprocessor for momentum-contrast video pretraining.

    In training, the batch holds two clips per video, consecutive, as
    produced by ``RepeatAugDataset(num_repeats=2)``. On the training device
    it then:

    1. scales the uint8 clips to [0, 1];
    2. merges the foregrounds of view 1 onto other videos' backgrounds
       (``fame``, the :class:`FAMEBlending` config; masks precomputed by the
       :class:`FAMEMask` transform are used when the data samples hold
       them);
    3. applies colour augmentation to every clip, with parameters drawn per
       clip and shared by its frames: random grayscale, colour jitter,
       Gaussian blur (kernel from the crop size, sigma drawn per clip);
    4. normalises with ``mean`` and ``std``.

    Outside training it is MMAction2's ``ActionDataPreprocessor``: batches of
    ordinary single-view clips are normalised for feature extraction.

    Args:
        mean (Sequence[float]): Per-channel mean on the 0-255 scale.
            Defaults to the Kinetics-400 statistics of the paper.
        std (Sequence[float]): Per-channel std on the 0-255 scale.
            Defaults to the Kinetics-400 statistics of the paper.
        fame (dict): Config of the :class:`FAMEBlending` applied to view 1;
            with ``prob=0.`` it trains plain MoCo. Defaults to
            ``dict(type='FAMEBlending')``.
        grayscale_prob (float): Probability of converting a clip to
            grayscale. Defaults to 0.2.
        colour_jitter (dict): Arguments of ``kornia.augmentation.ColorJitter``
            (brightness, contrast, saturation, hue, p). Defaults to
            ``dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
            p=0.8)``.
        blur_prob (float): Probability of blurring a clip. Defaults to 0.5.
        blur_sigma (Sequence[float]): Range of the blur sigma. Defaults to
            ``(0.1, 2.0)``.
        format_shape (str): Must be ``'NCTHW'``. Defaults to ``'NCTHW'``.
    """

    def __init__(self,
                 mean: Sequence[float] = (110.2008, 100.63983, 95.99475),
                 std: Sequence[float] = (58.14765, 56.46975, 55.332195),
                 fame: dict = dict(type='FAMEBlending'),
                 grayscale_prob: float = 0.2,
                 colour_jitter: dict = dict(
                     brightness=0.4,
                     contrast=0.4,
                     saturation=0.4,
                     hue=0.1,
                     p=0.8),
                 blur_prob: float = 0.5,
                 blur_sigma: Sequence[float] = (0.1, 2.0),
                 format_shape: str = 'NCTHW') -> None:
        if format_shape != 'NCTHW':
            raise ConfigError('format_shape',
                              f"must be 'NCTHW', got {format_shape!r}")
        super().__init__(mean=mean, std=std, format_shape=format_shape)
        # Copy the clips (pinned by the dataloader) to the device without
        # waiting for it: a blocking copy synchronises, once per clip.
        self._non_blocking = True
        with config_scope('fame'):
            self.fame = MODELS.build(fame)
        self.grayscale_prob = grayscale_prob
        self.colour_jitter = dict(colour_jitter)
        self.blur_prob = blur_prob
        self.blur_sigma = tuple(blur_sigma)
        # A plain dict, not a ModuleDict: the augmentations stay on the host
        # when the model moves, so kornia draws their random parameters there
        # and copies them to the device without a synchronisation.
        self._colour_augments: Dict[int, K.VideoSequential] = {}

    def colour_augment(self, clips: Tensor) -> Tensor:
        """Per-clip colour augmentation of (N, 3, T, H, W) clips in [0, 1]."""
        crop_size = min(clips.shape[-2:])
        augment = self._colour_augments.get(crop_size)
        if augment is None:
            k = blur_kernel_size(crop_size)
            augment = K.VideoSequential(
                K.RandomGrayscale(p=self.grayscale_prob),
                K.ColorJitter(**self.colour_jitter),
                K.RandomGaussianBlur((k, k), self.blur_sigma,
                                     p=self.blur_prob),
                data_format='BCTHW',
                same_on_frame=True)
            self._colour_augments[crop_size] = augment
        return augment(clips)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a batch; two augmented views in training.

        Args:
            data (dict): ``inputs`` and ``data_samples`` from the dataloader.
                ``inputs`` is a list of uint8 clips of shape (1, 3, T, H, W)
                (``repeat_pseudo_collate`` in training, ``pseudo_collate``
                otherwise).
            training (bool): Whether this is a training step.

        Returns:
            dict: In training, ``inputs`` is ``[view1, view2]``, each of
            shape (N, 3, T, H, W) for N videos, and ``data_samples`` holds
            one sample per video. Otherwise the output of
            ``ActionDataPreprocessor``.
        """
        if not training:
            return super().forward(data, training)
        data = self.cast_data(data)
        # MMEngine runs the preprocessor inside the --amp autocast region;
        # FAME and the augmentation stay in float32 (the model casts).
        with torch.autocast(data['inputs'][0].device.type, enabled=False):
            return self._two_views(data)

    def _two_views(self, data: dict) -> dict:
        """Merge, augment and normalise the two views of a cast batch."""
        views, data_samples = self._split_views(data['inputs'],
                                                data['data_samples'])
        view1, view2 = views.to(torch.float32).div_(255).unbind(1)
        view1 = self.fame.merge(
            view1, masks=self._stored_masks(data['data_samples'][0::2], view1))
        num_videos = view1.shape[0]
        clips = self.colour_augment(torch.cat([view1, view2]))
        # kornia's VideoSequential hands the clips back through a transposed
        # view; collectives (NCCL) and convolutions want them contiguous.
        clips = ((clips * 255 - self.mean) / self.std).contiguous()
        return dict(
            inputs=[clips[:num_videos], clips[num_videos:]],
            data_samples=data_samples)

    @staticmethod
    def _split_views(inputs: Sequence[Tensor],
                     data_samples: list) -> Tuple[Tensor, list]:
        """Consecutive clip pairs as (N, 2, 3, T, H, W).

        Args:
            inputs (Sequence[Tensor]): 2N clips of shape (1, 3, T, H, W).
            data_samples (list): The 2N data samples.

        Returns:
            tuple[Tensor, list]: The clips, a new tensor, and the data
            samples of the first views.
        """
        shapes = {tuple(clip.shape) for clip in inputs}
        clip_shape = next(iter(shapes), ())
        if (len(shapes) != 1 or len(clip_shape) != 5 or clip_shape[0] != 1
                or len(inputs) % 2):
            raise ValueError(
                'ContrastiveDataPreprocessor expects two clips of the same '
                'shape per video, one clip each, as produced by '
                'RepeatAugDataset(num_repeats=2) with SampleFrames('
                f'num_clips=1); got {len(inputs)} clips of shapes {shapes}')
        views = torch.stack(list(inputs)).reshape(-1, 2, *clip_shape[1:])
        return views, data_samples[0::2]

    @staticmethod
    def _stored_masks(data_samples: list, clips: Tensor) -> Optional[Tensor]:
        """Masks of :class:`FAMEMask` from the data samples, if present."""
        if 'fame_mask' not in data_samples[0]:
            return None
        masks = [torch.as_tensor(s.fame_mask) for s in data_samples]
        return torch.stack(masks).to(clips.device, non_blocking=True)
