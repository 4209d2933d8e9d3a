# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmaction.registry import LOOPS
from mmengine.dist import all_gather
from mmengine.evaluator import Evaluator
from mmengine.runner import ValLoop
from torch import Tensor
from torch.utils.data import DataLoader

from .feature_classifiers import knn_predict


@torch.no_grad()
def predict_features(model: torch.nn.Module,
                     data_batch: dict) -> Tuple[List, Tensor, Tensor]:
    """Run ``model.val_step`` on a batch of labelled videos.

    Args:
        model (nn.Module): A model whose ``predict`` mode puts pooled
            features in ``backbone_feat``, e.g. ``MoCoRecognizer``.
        data_batch (dict): A batch from a dataloader.

    Returns:
        tuple[list, Tensor, Tensor]: The data samples, their features
        (N, D) in float32 and their labels (N, ).
    """
    samples = model.val_step(data_batch)
    feats = torch.stack([sample.backbone_feat for sample in samples])
    labels = torch.cat([sample.gt_labels.item for sample in samples])
    return samples, feats.float(), labels.to(feats.device)


@LOOPS.register_module()
class KNNValLoop(ValLoop):
    """Validation by a kNN vote (:func:`knn_predict`) of a labelled bank's
    backbone features, gathered from all processes, for each video's
    ``pred_score``: pretraining watched without fine-tuning.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Labelled videos to classify.
        evaluator (Evaluator | dict | list): Scores the predictions.
        bank_dataloader (DataLoader | dict): Labelled videos that vote.
        k (int): Neighbours per query. Defaults to 20.
        num_classes (int, optional): Number of classes. Defaults to None:
            one more than the largest bank label.
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
