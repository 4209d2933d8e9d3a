# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (UnsafeCheckpointError, load_checkpoint_safely,
                         register_checkpoint_safe_globals)
from .config import find_config

__all__ = [
    'UnsafeCheckpointError', 'find_config', 'load_checkpoint_safely',
    'register_checkpoint_safe_globals'
]
