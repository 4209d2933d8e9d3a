# Copyright (c) OpenMMLab. All rights reserved.
from mmaction.models import Recognizer3D
from mmaction.registry import MODELS
from torch import nn


@MODELS.register_module()
class FrozenBackboneRecognizer3D(Recognizer3D):
    """A ``Recognizer3D`` whose backbone is frozen: the linear-probe protocol.

    No backbone parameter requires a gradient, and the backbone stays in
    eval mode while the recognizer trains, so its BatchNorm layers normalise
    with, and never update, the pretrained running statistics. Only the head
    learns. Keys are those of ``Recognizer3D`` (``backbone.*``,
    ``cls_head.*``), so ``load_from`` takes a pretraining checkpoint as is.

    The backbones' own ``frozen_stages`` and ``norm_eval`` do not suffice for
    every backbone: ``ResNet3dSlowFast`` with ``frozen_stages=4`` on both
    pathways still trains ``slow_path.conv1_lateral`` (MMAction2 1.1.0).

    Args are those of :class:`mmaction.models.Recognizer3D`.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> nn.Module:
        """Set the training mode of the head; the backbone stays in eval."""
        super().train(mode)
        self.backbone.eval()
        return self
