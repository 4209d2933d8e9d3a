# Copyright (c) OpenMMLab. All rights reserved.
"""A video the transfer datasets cannot read is named with its list line."""
from pathlib import Path

import numpy as np
import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import projects.fame  # noqa: F401
from projects.fame.utils import BadVideoError
from tests.video_files import write_video
from tools.cli import exit_on_user_errors

PIPELINE = [
    dict(type='DecordInit', io_backend='disk'),
    dict(
        type='SampleFrames',
        clip_len=4,
        frame_interval=1,
        num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(16, 16), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]


@pytest.fixture
def dataset_cfg(tmp_path) -> dict:
    """Three 8-frame videos listed in order; the second one is corrupt."""
    rng = np.random.default_rng(0)
    for name in ('good0.avi', 'good2.avi'):
        write_video(tmp_path / name,
                    rng.integers(0, 256, (8, 24, 32, 3), dtype=np.uint8))
    (tmp_path / 'bad1.avi').write_bytes(b'not a video' * 64)
    ann_file = tmp_path / 'list.txt'
    ann_file.write_text('good0.avi 0\nbad1.avi 1\ngood2.avi 0\n')
    init_default_scope('mmaction')
    return dict(
        type='StrictVideoDataset',
        ann_file=str(ann_file),
        data_prefix=dict(video=str(tmp_path)),
        pipeline=PIPELINE,
        test_mode=True)


def test_good_videos_load_as_with_video_dataset(dataset_cfg):
    strict = DATASETS.build(dataset_cfg)
    stock = DATASETS.build(dict(dataset_cfg, type='VideoDataset'))

    assert len(strict) == 3
    for index in (0, 2):
        assert strict[index]['inputs'].shape == (1, 3, 4, 16, 16)
        assert (strict[index]['inputs'] == stock[index]['inputs']).all()


def test_a_bad_video_is_named_with_its_line(dataset_cfg):
    dataset = DATASETS.build(dataset_cfg)

    with pytest.raises(BadVideoError) as info:
        dataset[1]
    message = str(info.value)
    assert message.startswith(
        f'cannot read video {Path(dataset_cfg["ann_file"]).parent}/bad1.avi '
        f'(line 2 of {dataset_cfg["ann_file"]}): ')


@pytest.mark.parametrize('num_workers', [0, 1])
def test_the_tools_print_one_message(dataset_cfg, num_workers):
    """Also when a dataloader worker raised it, with its traceback."""
    loader = Runner.build_dataloader(
        dict(
            dataset=dataset_cfg,
            batch_size=1,
            num_workers=num_workers,
            sampler=dict(type='DefaultSampler', shuffle=False)))

    with pytest.raises(SystemExit) as info, exit_on_user_errors({}):
        list(loader)
    message = str(info.value)
    assert message.startswith('error: cannot read video ')
    assert f'bad1.avi (line 2 of {dataset_cfg["ann_file"]})' in message
    assert 'Traceback' not in message
