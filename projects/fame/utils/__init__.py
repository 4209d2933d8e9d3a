# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (CheckpointMismatchError, UnreadableCheckpointError,
                         UnsafeCheckpointError, load_checkpoint_safely,
                         register_checkpoint_safe_globals)
from .config import (check_data_paths, check_optional_dependencies,
                     exit_on_user_errors, find_config)
from .config_error import BadVideoError, ConfigError, config_scope

__all__ = [
    'BadVideoError', 'CheckpointMismatchError', 'ConfigError',
    'UnreadableCheckpointError', 'UnsafeCheckpointError', 'check_data_paths',
    'check_optional_dependencies', 'config_scope', 'exit_on_user_errors',
    'find_config', 'load_checkpoint_safely', 'register_checkpoint_safe_globals'
]
