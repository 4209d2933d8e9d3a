# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (UnsafeCheckpointError, load_checkpoint_safely,
                         register_checkpoint_safe_globals)

__all__ = [
    'UnsafeCheckpointError', 'load_checkpoint_safely',
    'register_checkpoint_safe_globals'
]
