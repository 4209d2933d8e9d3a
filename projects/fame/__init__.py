# Copyright (c) OpenMMLab. All rights reserved.
"""FAME (Foreground-background Merging) for MMAction2.

Importing it registers its modules (configs use ``custom_imports``) and
allow-lists the types of MMEngine checkpoints for weights-only loading; the
tools also call :func:`register_safe_checkpoint_loaders`, which makes
MMEngine's own checkpoint loading weights-only.
"""
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .utils import register_checkpoint_safe_globals

register_checkpoint_safe_globals()
