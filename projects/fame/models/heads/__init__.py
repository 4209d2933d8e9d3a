# Copyright (c) OpenMMLab. All rights reserved.
from .moco_head import MoCoHead, Projector, global_pool

__all__ = ['MoCoHead', 'Projector', 'global_pool']
