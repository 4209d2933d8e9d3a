# Copyright (c) OpenMMLab. All rights reserved.
"""Classifiers on a frozen backbone's features: the kNN vote, also as a
validation loop, and the linear probe."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmaction.registry import LOOPS
from mmengine.dist import all_gather
from mmengine.evaluator import Evaluator
from mmengine.runner import ValLoop
from torch import Tensor, nn
from torch.utils.data import DataLoader


def knn_predict(bank_feats: Tensor,
                bank_labels: Tensor,
                feats: Tensor,
                num_classes: int,
                k: int = 20,
                temperature: float = 0.07) -> Tensor:
    """Returns class scores (N, num_classes): the votes of each query's
    ``k`` most cosine-similar bank entries, weighted
    ``exp(similarity / temperature)`` (Wu et al., 2018).

    Args:
        bank_feats (Tensor): Labelled features, shape (M, D).
        bank_labels (Tensor): Their labels in ``[0, num_classes)``, (M, ).
        feats (Tensor): Query features, shape (N, D).
        num_classes (int): Number of classes.
        k (int): Neighbours per query; capped at M. Defaults to 20.
        temperature (float): Sharpness of the vote. Defaults to 0.07.
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


@torch.no_grad()
def predict_features(model: torch.nn.Module,
                     data_batch: dict) -> Tuple[List, Tensor, Tensor]:
    """Returns the data samples of ``model.val_step`` on a batch of labelled
    videos, their features (N, D) in float32 and their labels (N, ).

    Args:
        model (nn.Module): A model whose ``predict`` mode puts pooled
            features in ``backbone_feat``, e.g. ``MoCoRecognizer``.
        data_batch (dict): A batch from a dataloader.
    """
    samples = model.val_step(data_batch)
    feats = torch.stack([sample.backbone_feat for sample in samples])
    labels = torch.cat([sample.gt_labels.item for sample in samples])
    return samples, feats.float(), labels.to(feats.device)


@LOOPS.register_module()
class KNNValLoop(ValLoop):
    """Validation without fine-tuning: each video's ``pred_score`` is the
    :func:`knn_predict` vote of a labelled bank gathered from all processes.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Labelled videos to classify.
        evaluator (Evaluator | dict | list): Scores the predictions.
        bank_dataloader (DataLoader | dict): Labelled videos that vote.
        k (int): Neighbours per query. Defaults to 20.
        num_classes (int, optional): Defaults to None: max bank label + 1.
        temperature (float): Sharpness of the vote. Defaults to 0.07.
        fp16 (bool): Whether to run in fp16. Defaults to False.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, dict],
                 evaluator: Union[Evaluator, dict, list],
                 bank_dataloader: Union[DataLoader, dict],
                 k: int = 20,
                 num_classes: Optional[int] = None,
                 temperature: float = 0.07,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if isinstance(bank_dataloader, dict):
            bank_dataloader = runner.build_dataloader(
                bank_dataloader, seed=runner.seed)
        self.bank_dataloader = bank_dataloader
        self.k = k
        self.num_classes = num_classes
        self.temperature = temperature
        self._bank: Tuple[Tensor, Tensor] = None

    def run(self) -> Dict[str, float]:
        self.runner.model.eval()
        feats, labels = [], []
        for data_batch in self.bank_dataloader:
            _, batch_feats, batch_labels = predict_features(
                self.runner.model, data_batch)
            feats.append(batch_feats)
            labels.append(batch_labels)
        self._bank = (torch.cat(all_gather(torch.cat(feats))),
                      torch.cat(all_gather(torch.cat(labels))))
        try:
            return super().run()
        finally:
            self._bank = None

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        self.runner.call_hook(
            'before_val_iter', batch_idx=idx, data_batch=data_batch)
        samples, feats, _ = predict_features(self.runner.model, data_batch)
        bank_feats, bank_labels = self._bank
        num_classes = self.num_classes or int(bank_labels.max()) + 1
        scores = knn_predict(bank_feats, bank_labels, feats, num_classes,
                             self.k, self.temperature)
        for sample, score in zip(samples, scores):
            sample.set_pred_score(score / score.sum())
        self.evaluator.process(data_samples=samples, data_batch=data_batch)
        self.runner.call_hook(
            'after_val_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=samples)


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
    std = feats.std(0).clamp_min(1e-6)
    probe = LinearProbe(feats.mean(0), std, num_classes).to(feats.dtype)
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
    """Returns a linear probe in eval mode, fitted deterministically (zero
    init, L-BFGS) with the weight decay best on a validation set (ties: the
    stronger).

    Args:
        train_feats (Tensor): Training features, shape (N, D).
        train_labels (Tensor): Training labels, shape (N, ).
        val_feats (Tensor): Validation features, shape (M, D).
        val_labels (Tensor): Validation labels, shape (M, ).
        num_classes (int): Number of classes.
        weight_decays (Sequence[float]): Candidate L2 strengths. Defaults to
            ``(1e-4, 1e-3, 1e-2, 1e-1, 1.0)``.
        max_iter (int): L-BFGS iterations per fit. Defaults to 500.
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
    """Returns the top-1 accuracy (%) over all videos of linear probes fitted
    within one labelled set: each class's videos are dealt to the folds in
    turn, each fold is tested by a probe trained on the others but one.

    Args:
        feats (Tensor): Features, shape (N, D).
        labels (Tensor): Labels, shape (N, ).
        num_classes (int): Number of classes.
        folds (int): Number of folds, at least 3. Defaults to 4.
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
