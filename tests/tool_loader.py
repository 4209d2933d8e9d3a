# Copyright (c) OpenMMLab. All rights reserved.
"""Load a script of ``tools/`` as a module, to test its functions.

The tools are scripts, not a package, so tests import them by path.
"""
import importlib.util
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS_DIR = REPO_ROOT / 'tools'


def load_tool(name: str) -> ModuleType:
    """Execute ``tools/<name>.py`` as a new module.

    Args:
        name (str): The script's path under ``tools/`` without ``.py``,
            e.g. ``'train'`` or ``'data/ucf101/build_ucf101_lists'``.

    Returns:
        ModuleType: The module, not added to ``sys.modules``.
    """
    path = TOOLS_DIR / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'fame_tools_{path.stem}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
