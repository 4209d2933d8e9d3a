# Copyright (c) OpenMMLab. All rights reserved.
"""FAME (Foreground-background Merging) for MMAction2: importing it
registers the modules and allow-lists MMEngine's checkpoint types."""
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .utils import register_checkpoint_safe_globals

register_checkpoint_safe_globals()
