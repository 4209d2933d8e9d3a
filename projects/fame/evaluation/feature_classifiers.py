# Copyright (c) OpenMMLab. All rights reserved.
"""Classifiers on features that a frozen backbone produced once: a kNN vote
and a linear probe."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def knn_predict(bank_feats: Tensor,
                bank_labels: Tensor,
                feats: Tensor,
                num_classes: int,
                k: int = 20,
                temperature: float = 0.07) -> Tensor:
    """Class scores of the ``k`` bank entries most cosine-similar to each
    query, weighted ``exp(similarity / temperature)`` (Wu et al., 2018).

    Args:
        bank_feats (Tensor): Labelled features, shape (M, D).
        bank_labels (Tensor): Their labels in ``[0, num_classes)``, (M, ).
        feats (Tensor): Query features, shape (N, D).
        num_classes (int): Number of classes.
        k (int): Neighbours per query; capped at M. Defaults to 20.
        temperature (float): Sharpness of the vote. Defaults to 0.07.

    Returns:
        Tensor: Vote totals, shape (N, num_classes).
    """
    if k < 1:
        raise ValueError(f'k must be at least 1, got {k}')
    if bank_feats.shape[0] != bank_labels.shape[0]:
        raise ValueError(f'{bank_feats.shape[0]} bank features but '
                         f'{bank_labels.shape[0]} labels')
    sims = F.normalize(feats, dim=1) @ F.normalize(bank_feats, dim=1).T
    top_sims, top_index = sims.topk(min(k, bank_feats.shape[0]), dim=1)
    votes = sims.new_zeros(feats.shape[0], num_classes)
    return votes.scatter_add_(1, bank_labels[top_index],
                              (top_sims / temperature).exp())


class LinearProbe(nn.Module):
    """A linear classifier on features standardised with the training
    features' statistics, which it keeps.

    Args:
        mean (Tensor): Per-dimension mean of the training features, (D, ).
        std (Tensor): Per-dimension std of the training features, (D, ).
        num_classes (int): Number of classes.
    """

    def __init__(self, mean: Tensor, std: Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer('mean', mean)
        self.register_buffer('std', std)
        self.fc = nn.Linear(mean.numel(), num_classes)

    def forward(self, feats: Tensor) -> Tensor:
        return self.fc((feats - self.mean) / self.std)


def _train_probe(feats: Tensor, labels: Tensor, num_classes: int,
                 weight_decay: float, max_iter: int) -> LinearProbe:
    """Fit a probe by full-batch L-BFGS on L2-regularised cross-entropy."""
    probe = LinearProbe(
        feats.mean(0),
        feats.std(0).clamp_min(1e-6), num_classes).to(feats.dtype)
    nn.init.zeros_(probe.fc.weight)
    nn.init.zeros_(probe.fc.bias)
    optimizer = torch.optim.LBFGS(
        probe.fc.parameters(),
        max_iter=max_iter,
        history_size=20,
        line_search_fn='strong_wolfe')

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(probe(feats), labels)
        loss = loss + weight_decay / 2 * probe.fc.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return probe.eval()


def fit_linear_probe(train_feats: Tensor,
                     train_labels: Tensor,
                     val_feats: Tensor,
                     val_labels: Tensor,
                     num_classes: int,
                     weight_decays: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1,
                                                       1.0),
                     max_iter: int = 500) -> LinearProbe:
    """Fit a linear probe, deterministically (zero init, L-BFGS), choosing
    its weight decay on a validation set (ties: the stronger).

    Args:
        train_feats (Tensor): Training features, shape (N, D).
        train_labels (Tensor): Training labels, shape (N, ).
        val_feats (Tensor): Validation features, shape (M, D).
        val_labels (Tensor): Validation labels, shape (M, ).
        num_classes (int): Number of classes.
        weight_decays (Sequence[float]): Candidate L2 strengths. Defaults to
            ``(1e-4, 1e-3, 1e-2, 1e-1, 1.0)``.
        max_iter (int): L-BFGS iterations per fit. Defaults to 500.

    Returns:
        LinearProbe: The probe of the best weight decay, in eval mode.
    """
    # Double precision makes L-BFGS's line search reproducible.
    train_feats, val_feats = train_feats.double(), val_feats.double()
    best, best_acc = None, -1.0
    for weight_decay in sorted(weight_decays, reverse=True):
        with torch.enable_grad():
            probe = _train_probe(train_feats, train_labels, num_classes,
                                 weight_decay, max_iter)
        with torch.no_grad():
            acc = (probe(val_feats).argmax(1) == val_labels).double().mean()
        if acc > best_acc:
            best, best_acc = probe, acc.item()
    return best


def cross_validate_linear_probe(feats: Tensor,
                                labels: Tensor,
                                num_classes: int,
                                folds: int = 4) -> float:
    """Top-1 accuracy (%) of linear probes fitted within one labelled set.

    Each class's videos are dealt to the folds in turn; each fold is tested
    by a probe trained on the others but one, which picks the weight decay.

    Args:
        feats (Tensor): Features, shape (N, D).
        labels (Tensor): Labels, shape (N, ).
        num_classes (int): Number of classes.
        folds (int): Number of folds, at least 3. Defaults to 4.

    Returns:
        float: Accuracy in percent over all N videos.
    """
    if folds < 3:
        raise ValueError(f'folds must be at least 3, got {folds}')
    classes, counts = labels.unique(return_counts=True)
    if counts.min() < folds:
        raise ValueError(f'every class needs at least {folds} videos for '
                         f'{folds} folds, got {counts.tolist()} videos of '
                         f'classes {classes.tolist()}')
    fold = torch.empty_like(labels)
    for label in classes:
        members = (labels == label).nonzero()[:, 0]
        fold[members] = torch.arange(len(members)) % folds
    correct = 0
    for test in range(folds):
        val = (test + 1) % folds
        train = (fold != test) & (fold != val)
        probe = fit_linear_probe(feats[train], labels[train],
                                 feats[fold == val], labels[fold == val],
                                 num_classes)
        with torch.no_grad():
            predictions = probe(feats[fold == test]).argmax(1)
        correct += (predictions == labels[fold == test]).sum().item()
    return 100 * correct / len(labels)
