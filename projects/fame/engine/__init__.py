# Copyright (c) OpenMMLab. All rights reserved.
from ..utils.checkpoint import (load_from_http_safely, load_from_local_safely,
                                register_safe_checkpoint_loaders)
from .fileio import AtomicLocalBackend, lock_work_dir, write_atomic
from .hooks import AtomicCheckpointHook, BadVideoHook, PretrainConfigCheckHook
from .loops import ResumableEpochBasedTrainLoop, seed_iteration
from .optim_wrappers import (SkipNonFiniteAmpOptimWrapper,
                             SkipNonFiniteOptimWrapper)

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'BadVideoHook',
    'PretrainConfigCheckHook', 'ResumableEpochBasedTrainLoop',
    'SkipNonFiniteAmpOptimWrapper', 'SkipNonFiniteOptimWrapper',
    'load_from_http_safely', 'load_from_local_safely', 'lock_work_dir',
    'register_safe_checkpoint_loaders', 'seed_iteration', 'write_atomic'
]
