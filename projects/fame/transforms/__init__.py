# Copyright (c) OpenMMLab. All rights reserved.
from .fame_mask import FAMEMask, LoadForegroundMask

__all__ = ['FAMEMask', 'LoadForegroundMask']
