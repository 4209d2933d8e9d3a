# Copyright (c) OpenMMLab. All rights reserved.
from .fame_blending import FAMEBlending
from .shuffle_bn import batch_shuffle_ddp, batch_unshuffle_ddp

__all__ = ['FAMEBlending', 'batch_shuffle_ddp', 'batch_unshuffle_ddp']
