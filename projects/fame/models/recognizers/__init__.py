# Copyright (c) OpenMMLab. All rights reserved.
from .frozen_backbone_recognizer import FrozenBackboneRecognizer3D
from .moco_recognizer import MoCoRecognizer

__all__ = ['FrozenBackboneRecognizer3D', 'MoCoRecognizer']
