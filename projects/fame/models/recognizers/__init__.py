# Copyright (c) OpenMMLab. All rights reserved.
from .moco_recognizer import MoCoRecognizer

__all__ = ['MoCoRecognizer']
