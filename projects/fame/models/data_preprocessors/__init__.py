# Copyright (c) OpenMMLab. All rights reserved.
from .contrastive_data_preprocessor import ContrastiveDataPreprocessor

__all__ = ['ContrastiveDataPreprocessor']
