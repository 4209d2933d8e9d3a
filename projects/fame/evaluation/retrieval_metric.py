# Copyright (c) OpenMMLab. All rights reserved.
"""Video-to-video retrieval: test videos query the training videos."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric
from torch import Tensor


def retrieval_recall(
    gallery_feats: Tensor,
    gallery_labels: Tensor,
    query_feats: Tensor,
    query_labels: Tensor,
    topk: Sequence[int] = (1, 5, 10, 20, 50)
) -> Dict[int, float]:
    """Recall@k of nearest-neighbour retrieval by cosine similarity.

    Each set is mean-centred with its own mean and L2-normalised; a query
    is a hit at ``k`` if any of its ``k`` most similar gallery videos has
    its class.

    Args:
        gallery_feats (Tensor): Gallery features, shape (G, D).
        gallery_labels (Tensor): Gallery classes, shape (G, ).
        query_feats (Tensor): Query features, shape (Q, D).
        query_labels (Tensor): Query classes, shape (Q, ).
        topk (Sequence[int]): The ``k`` values. Defaults to
            ``(1, 5, 10, 20, 50)``.

    Returns:
        dict[int, float]: Fraction of queries hit at each ``k``.
    """
    if len(gallery_feats) == 0 or len(query_feats) == 0:
        raise ValueError(f'retrieval needs gallery and query videos, got '
                         f'{len(gallery_feats)} and {len(query_feats)}')
    if min(topk) < 1 or max(topk) > len(gallery_feats):
        raise ValueError(f'every k of topk={tuple(topk)} must be in '
                         f'[1, {len(gallery_feats)}] (the gallery size)')
    gallery = F.normalize(gallery_feats - gallery_feats.mean(0), dim=1)
    query = F.normalize(query_feats - query_feats.mean(0), dim=1)
    sims = query @ gallery.T  # QxG
    ranked = sims.topk(max(topk), dim=1).indices  # QxK
    hits = gallery_labels[ranked] == query_labels[:, None]  # QxK
    return {k: hits[:, :k].any(1).double().mean().item() for k in topk}


def _single_label(data_sample: dict) -> int:
    """The class of a data sample, which must have exactly one."""
    labels = data_sample['gt_labels']['item']
    if labels.numel() != 1:
        raise ValueError('VideoRetrievalMetric needs one label per video, '
                         f'got {labels.numel()}')
    return int(labels.item())


@METRICS.register_module()
class VideoRetrievalMetric(BaseMetric):
    """Recall@k of video-to-video retrieval (``docs/algorithm.md``).

    Features of the test split query those of the training split (the
    gallery); see :func:`retrieval_recall`. Each data sample must carry a
    feature (``backbone_feat``, the pooled backbone features averaged over
    the clips of the video, as :class:`MoCoRecognizer` predicts them) and
    ``is_query``, as :class:`VideoRetrievalDataset` tags it.

    Args:
        topk (Sequence[int]): The ``k`` values. Defaults to
            ``(1, 5, 10, 20, 50)``.
        feat_key (str): The data sample field holding the feature.
            Defaults to ``'backbone_feat'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'retrieval'``.
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
        """Keep the feature, class and role of every video."""
        for sample in data_samples:
            if self.feat_key not in sample or 'is_query' not in sample:
                raise KeyError(
                    f'VideoRetrievalMetric needs "{self.feat_key}" and '
                    '"is_query" on every data sample: predict with a model '
                    'that sets the feature (e.g. MoCoRecognizer) on a '
                    'VideoRetrievalDataset')
            self.results.append(
                dict(
                    feat=sample[self.feat_key].detach().cpu().float(),
                    label=_single_label(sample),
                    is_query=bool(sample['is_query'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Return Recall@k in percent, as ``R{k}``."""
        feats = torch.stack([r['feat'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        is_query = torch.tensor([r['is_query'] for r in results])
        recalls = retrieval_recall(feats[~is_query], labels[~is_query],
                                   feats[is_query], labels[is_query],
                                   self.topk)
        return {f'R{k}': 100 * recall for k, recall in recalls.items()}
