# Copyright (c) OpenMMLab. All rights reserved.
from typing import Union

from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset, ConcatDataset


@DATASETS.register_module()
class VideoRetrievalDataset(ConcatDataset):
    """The gallery and the query videos of a retrieval test, as one dataset.

    One test pass then extracts the features of both sets, and
    :class:`VideoRetrievalMetric` tells them apart by the ``is_query`` field
    that this dataset puts into each packed data sample's metainfo (the
    order of the results is not relied on).

    Args:
        gallery (dict | BaseDataset): The videos searched, e.g. a
            ``VideoDataset`` of the training split.
        query (dict | BaseDataset): The videos searched for, e.g. a
            ``VideoDataset`` of the test split, with the same pipeline.
        lazy_init (bool): Whether to defer loading the annotations.
            Defaults to False.
    """

    def __init__(self,
                 gallery: Union[dict, BaseDataset],
                 query: Union[dict, BaseDataset],
                 lazy_init: bool = False) -> None:
        super().__init__([gallery, query], lazy_init=lazy_init)

    def __getitem__(self, idx: int) -> dict:
        """The packed sample ``idx``, tagged ``is_query``."""
        data = super().__getitem__(idx)
        dataset_idx, _ = self._get_ori_dataset_idx(idx)
        data['data_samples'].set_metainfo(dict(is_query=dataset_idx == 1))
        return data
