# Copyright (c) OpenMMLab. All rights reserved.
from ...utils import ConfigError, config_scope
from .early_backward import early_backward
from .fame_blending import FAMEBlending
from .precision import autocast_off
from .shuffle_bn import batch_shuffle_ddp, batch_unshuffle_ddp
from .split_batch_norm import SplitBatchNorm3d, has_split_batch_norm

__all__ = [
    'ConfigError', 'FAMEBlending', 'SplitBatchNorm3d', 'autocast_off',
    'batch_shuffle_ddp', 'batch_unshuffle_ddp', 'config_scope',
    'early_backward', 'has_split_batch_norm'
]
