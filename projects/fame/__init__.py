# Copyright (c) OpenMMLab. All rights reserved.
"""FAME (Foreground-background Merging) for MMAction2.

Importing this package registers its modules in MMAction2's registries
(configs use ``custom_imports = dict(imports=['projects.fame'])``) and lets
``torch.load(weights_only=True)`` read the checkpoints MMEngine writes. It
leaves MMEngine's checkpoint loaders as they are: ``tools/train.py`` and
``tools/test.py`` call :func:`register_safe_checkpoint_loaders` to make
MMEngine read every checkpoint weights-only.
"""
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .utils import register_checkpoint_safe_globals

register_checkpoint_safe_globals()
