# Copyright (c) OpenMMLab. All rights reserved.
from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS

from ..utils import BadVideoError


@DATASETS.register_module()
class StrictVideoDataset(VideoDataset):
    """``VideoDataset`` whose errors name the video and its line in
    ``ann_file`` (decord's may not); no video is skipped.

    Args: as ``VideoDataset``.
    """

    def prepare_data(self, idx: int) -> dict:
        try:
            return super().prepare_data(idx)
        except Exception as err:  # any decoder, file or transform error
            filename = self.get_data_info(idx)['filename']
            raise BadVideoError(
                f'cannot read video {filename} (line {idx + 1} of '
                f'{self.ann_file}): {type(err).__name__}: {err}') from err
