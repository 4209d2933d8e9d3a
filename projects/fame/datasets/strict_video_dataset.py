# Copyright (c) OpenMMLab. All rights reserved.
from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS

from ..utils import BadVideoError


@DATASETS.register_module()
class StrictVideoDataset(VideoDataset):
    """``VideoDataset`` that names the video it cannot read.

    MMAction2's dataset passes the decoder's error on, and decord's does not
    always name the file (a corrupt one gives ``Error reading 700
    bytes...``). Here any error while a video is prepared is raised as a
    :class:`BadVideoError` that names the video and its line in
    ``ann_file``, which the tools print as one message.

    Unlike pretraining's :class:`RobustRepeatAugDataset`, no video is
    skipped: a fine-tuned or evaluated model scored on part of a split would
    report a number for another split than the config names.
    """

    def prepare_data(self, idx: int) -> dict:
        """The processed sample of video ``idx``.

        Raises:
            BadVideoError: If the video cannot be read or processed.
        """
        try:
            return super().prepare_data(idx)
        except Exception as err:  # any decoder, file or transform error
            filename = self.get_data_info(idx)['filename']
            raise BadVideoError(
                f'cannot read video {filename} (line {idx + 1} of '
                f'{self.ann_file}): {type(err).__name__}: {err}') from err
