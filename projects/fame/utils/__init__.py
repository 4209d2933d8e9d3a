# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (UnsafeCheckpointError, load_checkpoint_safely,
                         register_checkpoint_safe_globals)
from .config import check_data_paths, check_optional_dependencies, find_config

__all__ = [
    'UnsafeCheckpointError', 'check_data_paths', 'check_optional_dependencies',
    'find_config', 'load_checkpoint_safely', 'register_checkpoint_safe_globals'
]
