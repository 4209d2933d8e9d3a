# Copyright (c) OpenMMLab. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .bad_video_hook import BadVideoHook
from .pretrain_config_check_hook import PretrainConfigCheckHook

__all__ = ['AtomicCheckpointHook', 'BadVideoHook', 'PretrainConfigCheckHook']
