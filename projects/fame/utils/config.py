# Copyright (c) OpenMMLab. All rights reserved.
import difflib
import glob
import os
import os.path as osp

CONFIG_ROOT = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
    'configs')


def find_config(path: str, config_root: str = CONFIG_ROOT) -> str:
    """Check that a config file exists, suggesting close names if not.

    Args:
        path (str): The config path given on the command line.
        config_root (str): Where to look for similarly named configs.
            Defaults to the repository's ``configs`` folder.

    Returns:
        str: ``path`` itself when it is a file.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
    """
    if osp.isfile(path):
        return path
    pattern = osp.join(config_root, '**', '*.py')
    # Suggest runnable configs only, not the ``_base_`` fragments.
    candidates = [
        c for c in glob.glob(pattern, recursive=True)
        if '_base_' not in c.split(os.sep)
    ]
    by_name = {osp.basename(c): c for c in sorted(candidates, reverse=True)}
    close = difflib.get_close_matches(
        osp.basename(path), list(by_name), n=5, cutoff=0.6)
    message = f'Config file not found: {path}'
    if close:
        message += '. Did you mean: ' + ', '.join(
            osp.relpath(by_name[name], osp.dirname(config_root))
            for name in close) + '?'
    raise FileNotFoundError(message)
