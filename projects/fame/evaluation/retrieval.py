# Copyright (c) OpenMMLab. All rights reserved.
"""Video-to-video retrieval: test videos query the training videos."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmaction.registry import DATASETS, METRICS
from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.evaluator import BaseMetric
from torch import Tensor


def retrieval_recall(
    gallery_feats: Tensor,
    gallery_labels: Tensor,
    query_feats: Tensor,
    query_labels: Tensor,
    topk: Sequence[int] = (1, 5, 10, 20, 50)
) -> Dict[int, float]:
    """Returns Recall@k for each ``k`` of ``topk``: the share of queries with
    their class among the ``k`` most cosine-similar gallery videos, each set
    centred on its own mean.

    Args:
        gallery_feats (Tensor): Gallery features, shape (G, D).
        gallery_labels (Tensor): Gallery classes, shape (G, ).
        query_feats (Tensor): Query features, shape (Q, D).
        query_labels (Tensor): Query classes, shape (Q, ).
        topk (Sequence[int]): Cut-offs k. Defaults to ``(1, 5, 10, 20, 50)``.
    """
    if len(gallery_feats) == 0 or len(query_feats) == 0:
        raise ValueError(f'retrieval needs gallery and query videos, got '
                         f'{len(gallery_feats)} and {len(query_feats)}')
    if min(topk) < 1 or max(topk) > len(gallery_feats):
        raise ValueError(f'every k of topk={tuple(topk)} must be in '
                         f'[1, {len(gallery_feats)}] (the gallery size)')
    gallery = F.normalize(gallery_feats - gallery_feats.mean(0), dim=1)
    query = F.normalize(query_feats - query_feats.mean(0), dim=1)
    ranked = (query @ gallery.T).topk(max(topk), dim=1).indices  # QxK
    hits = gallery_labels[ranked] == query_labels[:, None]  # QxK
    return {k: hits[:, :k].any(1).double().mean().item() for k in topk}


@DATASETS.register_module()
class VideoRetrievalDataset(ConcatDataset):
    """The gallery and the query videos of a retrieval test, as one dataset
    whose data samples say ``is_query``.

    Args:
        gallery (dict | BaseDataset): The videos searched (training split).
        query (dict | BaseDataset): The videos searched for (test split).
        lazy_init (bool): Defer loading the annotations. Defaults to False.
    """

    def __init__(self,
                 gallery: Union[dict, BaseDataset],
                 query: Union[dict, BaseDataset],
                 lazy_init: bool = False) -> None:
        super().__init__([gallery, query], lazy_init=lazy_init)

    def __getitem__(self, idx: int) -> dict:
        data = super().__getitem__(idx)
        dataset_idx, _ = self._get_ori_dataset_idx(idx)
        data['data_samples'].set_metainfo(dict(is_query=dataset_idx == 1))
        return data


@METRICS.register_module()
class VideoRetrievalMetric(BaseMetric):
    """Recall@k (:func:`retrieval_recall`, in %) of the query videos of a
    :class:`VideoRetrievalDataset` among its gallery, by a predicted feature.

    Args:
        topk (Sequence[int]): Cut-offs k. Defaults to ``(1, 5, 10, 20, 50)``.
        feat_key (str): The feature's field. Defaults to ``'backbone_feat'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to None.
    """
    default_prefix = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = (1, 5, 10, 20, 50),
                 feat_key: str = 'backbone_feat',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        self.feat_key = feat_key

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.feat_key not in sample or 'is_query' not in sample:
                raise KeyError(
                    f'VideoRetrievalMetric needs "{self.feat_key}" and '
                    '"is_query" on every data sample: predict with a model '
                    'that sets the feature (e.g. MoCoRecognizer) on a '
                    'VideoRetrievalDataset')
            feat = sample[self.feat_key].detach().cpu().float()
            labels = sample['gt_labels']['item']
            if labels.numel() != 1:
                raise ValueError('VideoRetrievalMetric needs one label per '
                                 f'video, got {labels.numel()}')
            self.results.append(
                dict(
                    feat=feat,
                    label=int(labels.item()),
                    is_query=bool(sample['is_query'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        feats = torch.stack([r['feat'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        is_query = torch.tensor([r['is_query'] for r in results])
        recalls = retrieval_recall(feats[~is_query], labels[~is_query],
                                   feats[is_query], labels[is_query],
                                   self.topk)
        return {f'R{k}': 100 * recall for k, recall in recalls.items()}
