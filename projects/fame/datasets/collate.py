# Copyright (c) OpenMMLab. All rights reserved.
from typing import Any, List, Mapping, Sequence, Union

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from torch import Tensor
from torch.utils.data import default_collate


def stack_clips(clips: Sequence[Any]) -> Union[Tensor, List[Any]]:
    """Stack clips of one shape and dtype into one tensor, else a list.

    In a dataloader worker the stacked tensor is allocated in shared memory
    directly (``torch.utils.data.default_collate`` does so), so the batch
    reaches the main process as one shared-memory block instead of one per
    clip.

    Args:
        clips (Sequence): The clips, normally CPU tensors of one shape.

    Returns:
        Tensor | list: A tensor of shape ``(len(clips), *clip.shape)`` when
        every clip is a dense tensor of the first one's shape, dtype and
        device; otherwise the clips as a list, as ``pseudo_collate`` leaves
        them.
    """
    clips = list(clips)
    if not clips or not all(isinstance(c, Tensor) for c in clips):
        return clips
    first = clips[0]
    if first.layout != torch.strided or any(
            c.shape != first.shape or c.dtype != first.dtype
            or c.device != first.device or c.layout != first.layout
            for c in clips[1:]):
        return clips
    return default_collate(clips)


@FUNCTIONS.register_module()
def repeat_stack_collate(data_batch: Sequence[Sequence[Any]]) -> Any:
    """MMAction2's ``repeat_pseudo_collate`` with the clips stacked.

    Flattens the repeats of each sample (the ``num_repeats`` clips of one
    video from ``RepeatAugDataset``) into one batch, consecutive per video,
    and collates it with ``pseudo_collate``, as ``repeat_pseudo_collate``
    does; then stacks the ``inputs`` into one tensor (:func:`stack_clips`)
    when all clips have the same shape and dtype. ``data_samples`` and any
    other field stay lists.

    For N videos of two clips of shape (1, 3, T, H, W), ``inputs`` is one
    tensor of shape (2N, 1, 3, T, H, W): its length and items are those of
    the list ``repeat_pseudo_collate`` gives. Through dataloader workers a
    batch then costs one shared-memory segment (and file descriptor)
    instead of one per clip, in the worker that sends it and in the main
    process that receives it. ``ContrastiveDataPreprocessor`` accepts both
    forms with identical results.

    Args:
        data_batch (Sequence[Sequence]): The samples of one batch, each a
            sequence of ``num_repeats`` packed results (dicts with
            ``inputs`` and ``data_samples``).

    Returns:
        Any: The collated batch: a dict with ``inputs`` (a tensor, or a
        list of clips of different shapes or dtypes) and ``data_samples``
        (a list), when the packed results are dicts.
    """
    batch = pseudo_collate(
        [item for repeats in data_batch for item in repeats])
    if isinstance(batch, Mapping) and 'inputs' in batch:
        batch['inputs'] = stack_clips(batch['inputs'])
    return batch
