# Copyright (c) OpenMMLab. All rights reserved.
from .fame_mask import FAMEMask
from .load_foreground_mask import LoadForegroundMask

__all__ = ['FAMEMask', 'LoadForegroundMask']
