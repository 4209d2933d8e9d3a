# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (CheckpointMismatchError, UnreadableCheckpointError,
                         UnsafeCheckpointError, check_state_dict,
                         load_checkpoint_safely, load_from_http_safely,
                         load_from_local_safely,
                         register_checkpoint_safe_globals,
                         register_safe_checkpoint_loaders)
from .config_error import BadVideoError, ConfigError, config_scope

__all__ = [
    'BadVideoError', 'CheckpointMismatchError', 'ConfigError',
    'UnreadableCheckpointError', 'UnsafeCheckpointError', 'check_state_dict',
    'config_scope', 'load_checkpoint_safely', 'load_from_http_safely',
    'load_from_local_safely', 'register_checkpoint_safe_globals',
    'register_safe_checkpoint_loaders'
]
