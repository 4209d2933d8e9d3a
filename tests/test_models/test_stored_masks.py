# Copyright (c) OpenMMLab. All rights reserved.
"""Masks computed by the FAMEMask transform drive the preprocessor's merge."""
import numpy as np
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

import projects.fame  # noqa: F401

NUM_VIDEOS, T, SIZE = 4, 3, 8


def preprocess(mask_value: bool) -> tuple:
    torch.manual_seed(0)
    preprocessor = MODELS.build(
        dict(
            type='ContrastiveDataPreprocessor',
            mean=(0., 0., 0.),
            std=(1., 1., 1.),
            grayscale_prob=0.,
            colour_jitter=dict(p=0.),
            blur_prob=0.))
    clips = [
        torch.randint(0, 256, (1, 3, T, SIZE, SIZE), dtype=torch.uint8)
        for _ in range(2 * NUM_VIDEOS)
    ]
    samples = []
    for _ in clips:
        sample = ActionDataSample()
        sample.set_metainfo(dict(fame_mask=np.full((SIZE, SIZE), mask_value)))
        samples.append(sample)
    out = preprocessor(dict(inputs=clips, data_samples=samples), True)
    view1 = torch.stack([c[0] for c in clips[0::2]]).float()
    return out['inputs'][0], view1


def test_all_foreground_masks_keep_every_clip():
    merged, view1 = preprocess(mask_value=True)
    torch.testing.assert_close(merged, view1)


def test_all_background_masks_take_whole_clips_of_the_batch():
    merged, view1 = preprocess(mask_value=False)
    # Every merged clip is one whole clip of view 1 (the permuted one).
    for clip in merged:
        assert any(torch.allclose(clip, other) for other in view1)
