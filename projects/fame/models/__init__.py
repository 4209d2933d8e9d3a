# Copyright (c) OpenMMLab. All rights reserved.
from .data_preprocessors import ContrastiveDataPreprocessor
from .heads import MoCoHead
from .recognizers import FrozenBackboneRecognizer3D, MoCoRecognizer
from .utils import FAMEBlending

__all__ = [
    'ContrastiveDataPreprocessor', 'FAMEBlending',
    'FrozenBackboneRecognizer3D', 'MoCoHead', 'MoCoRecognizer'
]
