# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (CheckpointMismatchError, UnreadableCheckpointError,
                         UnsafeCheckpointError, check_state_dict,
                         load_checkpoint_safely,
                         register_checkpoint_safe_globals)
from .config_error import BadVideoError, ConfigError, config_scope

__all__ = [
    'BadVideoError', 'CheckpointMismatchError', 'ConfigError',
    'UnreadableCheckpointError', 'UnsafeCheckpointError', 'check_state_dict',
    'config_scope', 'load_checkpoint_safely',
    'register_checkpoint_safe_globals'
]
