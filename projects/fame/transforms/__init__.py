# Copyright (c) OpenMMLab. All rights reserved.
from .fame_mask import FAMEMask

__all__ = ['FAMEMask']
