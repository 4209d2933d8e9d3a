# Copyright (c) OpenMMLab. All rights reserved.
from .data_preprocessors import ContrastiveDataPreprocessor
from .heads import MoCoHead
from .recognizers import MoCoRecognizer
from .utils import FAMEBlending

__all__ = [
    'ContrastiveDataPreprocessor', 'FAMEBlending', 'MoCoHead', 'MoCoRecognizer'
]
