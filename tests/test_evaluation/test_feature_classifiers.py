# Copyright (c) OpenMMLab. All rights reserved.
import math

import pytest
import torch

from projects.fame.evaluation import (LinearProbe, cross_validate_linear_probe,
                                      feature_classifiers, fit_linear_probe,
                                      knn_predict)


def test_knn_predict_hand_computed():
    bank = torch.tensor([[1., 0.], [0., 1.], [1., 1.], [-1., 0.]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[2., 0.1]])
    scores = knn_predict(
        bank, labels, query, num_classes=3, k=2, temperature=0.5)
    # cosine to the bank: 0.9988, 0.0499, 0.7417, -0.9988; top 2: 0 and 2
    cos = torch.nn.functional.cosine_similarity(query, bank)
    expected = torch.tensor(
        [[math.exp(cos[0] / 0.5),
          math.exp(cos[2] / 0.5), 0.]])
    torch.testing.assert_close(scores, expected)
    # features are compared by direction only
    torch.testing.assert_close(
        knn_predict(3 * bank, labels, 5 * query, 3, k=2, temperature=0.5),
        expected)


def test_knn_predict_caps_k_and_checks_arguments():
    bank, labels = torch.eye(3), torch.tensor([0, 1, 1])
    scores = knn_predict(bank, labels, torch.ones(1, 3), 2, k=20)
    assert torch.allclose(scores.sum(),
                          3 * torch.exp(torch.tensor(1 / 3**0.5 / 0.07)))
    with pytest.raises(ValueError, match='k must be'):
        knn_predict(bank, labels, bank, 2, k=0)
    with pytest.raises(ValueError, match='3 bank features but 2 labels'):
        knn_predict(bank, labels[:2], bank, 2)


def make_blobs(num, seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(num) % 3
    centres = torch.tensor([[4., 0., 0.], [0., 4., 0.], [0., 0., 4.]])
    # a large, uninformative offset and scale on the last dimension
    feats = centres[labels] + torch.randn(num, 3, generator=generator)
    feats = torch.cat(
        [feats, 100 + 50 * torch.randn(num, 1, generator=generator)], 1)
    return feats, labels


def test_linear_probe_fits_and_standardises():
    train, val, test = make_blobs(60, 0), make_blobs(30, 1), make_blobs(30, 2)
    probe = fit_linear_probe(*train, *val, num_classes=3)
    assert isinstance(probe, LinearProbe) and not probe.training
    # the standardisation is the training set's, applied to any input
    torch.testing.assert_close(probe.mean, train[0].double().mean(0))
    torch.testing.assert_close(probe.std, train[0].double().std(0))
    with torch.no_grad():
        logits = probe(test[0].double())
    expected = probe.fc((test[0].double() - probe.mean) / probe.std)
    torch.testing.assert_close(logits, expected)
    assert (logits.argmax(1) == test[1]).float().mean() > 0.9


def test_linear_probe_is_deterministic_and_picks_weight_decay():
    train, val = make_blobs(60, 0), make_blobs(30, 1)
    first = fit_linear_probe(*train, *val, num_classes=3)
    second = fit_linear_probe(*train, *val, num_classes=3)
    assert torch.equal(first.fc.weight, second.fc.weight)
    # a single, huge weight decay keeps the weights near zero
    flat = fit_linear_probe(*train, *val, num_classes=3, weight_decays=[1e4])
    assert flat.fc.weight.abs().max() < 1e-3 < first.fc.weight.abs().max()


def test_cross_validated_probe_deals_classes_to_folds(monkeypatch):
    # Class 0 holds videos 0, 2, 4, 6 and class 1 videos 1, 3, 5, 7 and 8:
    # with 4 folds, fold f tests videos {2f, 2f + 1} (and fold 0 also 8).
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 1])
    feats = torch.arange(9.)[:, None]
    calls = []

    def record(train_feats, train_labels, val_feats, val_labels, classes):
        calls.append((train_feats[:, 0].tolist(), val_feats[:, 0].tolist()))
        return lambda x: torch.nn.functional.one_hot(
            (x[:, 0] < 4).long(), classes).float()

    monkeypatch.setattr(feature_classifiers, 'fit_linear_probe', record)
    acc = cross_validate_linear_probe(feats, labels, 2, folds=4)
    assert calls == [([4., 5., 6., 7.], [2., 3.]),
                     ([0., 1., 6., 7., 8.], [4., 5.]),
                     ([0., 1., 2., 3., 8.], [6., 7.]),
                     ([2., 3., 4., 5.], [0., 1., 8.])]
    # the stub predicts class 1 below 4: right for videos 1, 3, 4 and 6
    assert acc == 100 * 4 / 9


def test_cross_validated_probe_on_blobs_and_too_few_videos():
    feats, labels = make_blobs(40, 0)
    assert cross_validate_linear_probe(feats, labels, 3) > 90
    with pytest.raises(ValueError, match='at least 4 videos'):
        cross_validate_linear_probe(feats[:10], labels[:10], 3)
    with pytest.raises(ValueError, match='at least 3'):
        cross_validate_linear_probe(feats, labels, 3, folds=2)
