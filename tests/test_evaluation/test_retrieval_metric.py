# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import METRICS
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

from projects.fame.evaluation import retrieval_recall

# Centred, the gallery points along +x, +y, -x, -y (classes 0, 1, 2, 0) and
# the queries just off +x, +y, -x, -y (classes 0, 0, 1, 2). Ranked by
# cosine, query 0 finds its class first, query 1 second, query 2 third,
# query 3 second: Recall@1 = 1/4, Recall@2 = 3/4, Recall@3 = 1.
GALLERY = torch.tensor([[1., 0.], [0., 1.], [-1., 0.], [0., -1.]])
GALLERY_LABELS = torch.tensor([0, 1, 2, 0])
QUERIES = torch.tensor([[2., .2], [.2, 2.], [-2., -.2], [-.2, -2.]])
QUERY_LABELS = torch.tensor([0, 0, 1, 2])
RECALLS = {1: 0.25, 2: 0.75, 3: 1.0}
# Each set is offset by its own mean; only centring recovers the geometry.
GALLERY_OFFSET = torch.tensor([10., 10.])
QUERY_OFFSET = torch.tensor([-5., 3.])


def test_recall_is_computed_on_centred_features():
    recalls = retrieval_recall(GALLERY + GALLERY_OFFSET, GALLERY_LABELS,
                               QUERIES + QUERY_OFFSET, QUERY_LABELS, (1, 2, 3))
    assert recalls == RECALLS
    # Uncentred, the nearest neighbours would differ.
    raw = F.normalize(
        QUERIES + QUERY_OFFSET, dim=1) @ F.normalize(
            GALLERY + GALLERY_OFFSET, dim=1).T
    assert raw.argmax(1).tolist() != [0, 1, 2, 3]


def test_recall_is_invariant_to_feature_scale():
    scale = torch.tensor([[3.], [.5], [7.], [1.5]])
    assert retrieval_recall(GALLERY * scale, GALLERY_LABELS, QUERIES,
                            QUERY_LABELS, (1, 2, 3)) == RECALLS


@pytest.mark.parametrize('topk', [(0, ), (1, 5)])
def test_k_outside_the_gallery_is_refused(topk):
    with pytest.raises(ValueError, match=r'in \[1, 4\]'):
        retrieval_recall(GALLERY, GALLERY_LABELS, QUERIES, QUERY_LABELS, topk)


def data_sample(feat: torch.Tensor, label: int, is_query: bool) -> dict:
    """A predicted sample as the Evaluator hands it to a metric."""
    sample = ActionDataSample().set_gt_labels(label)
    sample.set_metainfo(dict(is_query=is_query))
    sample.set_field(feat, 'backbone_feat')
    return sample.to_dict()


def test_metric_separates_gallery_and_queries_by_tag():
    init_default_scope('mmaction')
    metric = METRICS.build(dict(type='VideoRetrievalMetric', topk=(1, 2, 3)))
    samples = [
        data_sample(f, int(y), False)
        for f, y in zip(GALLERY + GALLERY_OFFSET, GALLERY_LABELS)
    ] + [
        data_sample(f, int(y), True)
        for f, y in zip(QUERIES + QUERY_OFFSET, QUERY_LABELS)
    ]
    # Interleaved and in two batches: the tags, not the order, decide.
    order = [4, 0, 5, 1, 6, 2, 7, 3]
    metric.process({}, [samples[i] for i in order[:3]])
    metric.process({}, [samples[i] for i in order[3:]])
    assert metric.evaluate(len(samples)) == {
        'retrieval/R1': 25.0,
        'retrieval/R2': 75.0,
        'retrieval/R3': 100.0
    }


def test_metric_names_the_missing_fields():
    init_default_scope('mmaction')
    metric = METRICS.build(dict(type='VideoRetrievalMetric'))
    sample = ActionDataSample().set_gt_labels(0).to_dict()
    with pytest.raises(KeyError, match='"backbone_feat" and "is_query"'):
        metric.process({}, [sample])
