# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

import projects.fame  # noqa: F401

T, H, W = 4, 8, 12


@pytest.fixture
def mask_dirs(tmp_path):
    """A video path and its mask file: frame t marks pixel (t, 2 t)."""
    videos, masks = tmp_path / 'videos', tmp_path / 'masks'
    (masks / 'train').mkdir(parents=True)
    frames = np.zeros((T, H, W), bool)
    for t in range(T):
        frames[t, t, 2 * t] = True
    np.savez(masks / 'train' / 'a.npz', masks=frames)
    return videos, masks


def build(videos, masks):
    return TRANSFORMS.build(
        dict(
            type='LoadForegroundMask',
            video_prefix=str(videos),
            mask_prefix=str(masks)))


def test_union_of_the_sampled_frames(mask_dirs):
    videos, masks = mask_dirs
    results = dict(
        filename=str(videos / 'train' / 'a.mp4'),
        frame_inds=np.array([1, 3]),
        img_shape=(H, W))
    mask = build(videos, masks)(results)['fame_mask']
    expected = np.zeros((H, W), bool)
    expected[1, 2] = expected[3, 6] = True
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)


def test_follows_crop_flip_and_resize(mask_dirs):
    videos, masks = mask_dirs
    # Crop the top-left quarter of the decoded frame (rows 0-3, columns
    # 0-5), flip it horizontally, then resize it 2x.
    results = dict(
        filename=str(videos / 'train' / 'a.mp4'),
        frame_inds=np.array([[0, 1, 2]]),
        crop_quadruple=np.array([0, 0, 0.5, 0.5], np.float32),
        flip=True,
        flip_direction='horizontal',
        img_shape=(H, W))
    mask = build(videos, masks)(results)['fame_mask']
    crop = np.zeros((H // 2, W // 2), bool)
    crop[0, 0] = crop[1, 2] = crop[2, 4] = True
    expected = crop[:, ::-1].repeat(2, 0).repeat(2, 1)
    np.testing.assert_array_equal(mask, expected)


def test_missing_and_short_mask_files_are_named(mask_dirs):
    videos, masks = mask_dirs
    transform = build(videos, masks)
    with pytest.raises(FileNotFoundError, match='b.npz'):
        transform(
            dict(
                filename=str(videos / 'train' / 'b.mp4'),
                frame_inds=np.array([0]),
                img_shape=(H, W)))
    with pytest.raises(ValueError, match='a.npz'):
        transform(
            dict(
                filename=str(videos / 'train' / 'a.mp4'),
                frame_inds=np.array([0, T]),
                img_shape=(H, W)))
