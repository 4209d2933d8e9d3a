# Copyright (c) OpenMMLab. All rights reserved.
from .fame_blending import FAMEBlending
from .shuffle_bn import (SplitBatchNorm3d, batch_shuffle_ddp,
                         batch_unshuffle_ddp, has_split_batch_norm)

__all__ = [
    'FAMEBlending', 'SplitBatchNorm3d', 'batch_shuffle_ddp',
    'batch_unshuffle_ddp', 'has_split_batch_norm'
]
