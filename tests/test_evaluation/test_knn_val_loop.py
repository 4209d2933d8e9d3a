# Copyright (c) OpenMMLab. All rights reserved.
import math
from unittest.mock import MagicMock

import pytest
import torch
from mmaction.evaluation import AccMetric
from mmaction.structures import ActionDataSample
from mmengine.evaluator import Evaluator
from torch.utils.data import DataLoader

from projects.fame.evaluation import KNNValLoop
from tests.strict_collectives import run_in_processes


class FeatureModel(torch.nn.Module):
    """Returns its inputs as ``backbone_feat``, as MoCoRecognizer does."""

    def val_step(self, data_batch):
        samples = []
        for feat, label in zip(data_batch['feat'], data_batch['label']):
            sample = ActionDataSample().set_gt_labels(label.view(1))
            sample.set_field(feat, 'backbone_feat')
            samples.append(sample)
        return samples


def loader(feats, labels):
    items = [dict(feat=f, label=y) for f, y in zip(feats, labels)]
    return DataLoader(items, batch_size=4)


def reference_votes(bank, bank_labels, query, k, temperature, num_classes):
    """The weighted kNN vote of one query, written out with plain floats."""

    def cosine(a, b):
        dot = sum(x * y for x, y in zip(a, b))
        return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    sims = sorted(((cosine(query, b), int(y))
                   for b, y in zip(bank.tolist(), bank_labels)),
                  reverse=True)[:k]
    votes = [0.0] * num_classes
    for sim, label in sims:
        votes[label] += math.exp(sim / temperature)
    return votes


def run_loop(dataloader: DataLoader, bank_dataloader: DataLoader,
             k: int) -> tuple:
    """Run a KNNValLoop of 3 classes on a mocked runner.

    Returns:
        tuple: The runner and the loop's metrics.
    """
    runner = MagicMock()
    runner.model = FeatureModel()
    evaluator = Evaluator(
        AccMetric(metric_options=dict(top_k_accuracy=dict(topk=(1, )))))
    loop = KNNValLoop(
        runner,
        dataloader,
        evaluator,
        bank_dataloader,
        k=k,
        num_classes=3,
        temperature=0.5)
    return runner, loop.run()


@pytest.mark.parametrize('k', [1, 5])
def test_knn_val_loop_matches_reference(k):
    bank, bank_labels, queries, labels = blobs(15)

    runner, metrics = run_loop(
        loader(queries, labels), loader(bank, bank_labels), k)

    votes = [
        reference_votes(bank, bank_labels, q, k, 0.5, 3)
        for q in queries.tolist()
    ]
    correct = [
        max(range(3), key=v.__getitem__) == y
        for v, y in zip(votes, labels.tolist())
    ]
    assert metrics['acc/top1'] == pytest.approx(sum(correct) / len(correct))
    assert 0 < sum(correct) < len(correct)  # the data is not trivial

    calls = runner.call_hook.call_args_list
    scores = [
        sample.pred_scores.item for call in calls
        if call.args[0] == 'after_val_iter'
        for sample in call.kwargs['outputs']
    ]
    for score, vote in zip(scores, votes):
        expected = torch.tensor(vote) / sum(vote)
        torch.testing.assert_close(score, expected)
    hooks = [call.args[0] for call in calls]
    assert hooks[0] == 'before_val' and hooks[-1] == 'after_val'
    assert hooks.count('before_val_iter') == 3


def blobs(bank_size: int) -> tuple:
    """A bank of ``bank_size`` features and 10 to classify, 3 classes."""
    generator = torch.Generator().manual_seed(0)
    centres = 2 * torch.randn(3, 6, generator=generator)
    bank_labels = torch.arange(bank_size) % 3
    bank = centres[bank_labels] + torch.randn(
        bank_size, 6, generator=generator)
    labels = torch.arange(10) % 3
    queries = centres[labels] + 2 * torch.randn(10, 6, generator=generator)
    return bank, bank_labels, queries, labels


def sharded_data():
    """A bank of 16 videos and 10 to classify: even halves."""
    return blobs(16)


def _knn_metrics(rank: int, world_size: int) -> dict:
    from mmengine.dataset import DefaultSampler
    bank, bank_labels, queries, labels = sharded_data()

    def sharded(feats, labels):
        items = [dict(feat=f, label=y) for f, y in zip(feats, labels)]
        return DataLoader(
            items,
            batch_size=4,
            sampler=DefaultSampler(items, shuffle=False),
            collate_fn=loader(feats, labels).collate_fn)

    return run_loop(sharded(queries, labels), sharded(bank, bank_labels),
                    5)[1]


def test_knn_val_loop_on_two_processes_matches_one():
    # Each process reads half of the bank and of the validation videos,
    # under NCCL's rules for the feature gather (strict collectives).
    metrics = run_in_processes(_knn_metrics, 2)
    assert metrics[0] == metrics[1]
    bank, bank_labels, queries, labels = sharded_data()
    votes = [
        reference_votes(bank, bank_labels, q, 5, 0.5, 3)
        for q in queries.tolist()
    ]
    correct = [
        max(range(3), key=v.__getitem__) == y
        for v, y in zip(votes, labels.tolist())
    ]
    assert metrics[0]['acc/top1'] == pytest.approx(sum(correct) / 10)
