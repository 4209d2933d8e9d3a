# Copyright (c) OpenMMLab. All rights reserved.
"""Make every checkpoint MMEngine reads load weights-only.

MMEngine's ``CheckpointLoader`` (resume, ``load_from``, ``init_cfg``) calls
``torch.load`` without ``weights_only``: local files load weights-only only
while torch's default says so (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` turns it
off), and URLs go through ``torch.hub.load_state_dict_from_url``, whose
``weights_only=False`` default lets a downloaded checkpoint run code. These
loaders replace MMEngine's process-wide, so importing ``projects.fame`` does
not register them: ``tools/train.py`` and ``tools/test.py`` (and any script
that builds a ``Runner``) call :func:`register_safe_checkpoint_loaders`.
"""
import os
import os.path as osp
from typing import Any, Optional
from urllib.parse import urlparse

import mmengine.runner.checkpoint as mmengine_checkpoint
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner import CheckpointLoader

from ..utils import load_checkpoint_safely, register_checkpoint_safe_globals


def load_from_local_safely(filename: str, map_location: Any = None) -> Any:
    """Load a local checkpoint weights-only (MMEngine's ``''`` scheme).

    Args:
        filename (str): The checkpoint path.
        map_location (Any): As in :func:`torch.load`. Defaults to None.

    Returns:
        Any: The checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return load_checkpoint_safely(filename, map_location=map_location)


def _download(url: str, model_dir: Optional[str], progress: bool) -> str:
    """Download ``url`` into the torch hub cache unless it is there."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        torch.hub.download_url_to_file(url, cached, progress=progress)
    return cached


def load_from_http_safely(filename: str,
                          map_location: Any = None,
                          model_dir: Optional[str] = None,
                          progress: Optional[bool] = None) -> Any:
    """Download a checkpoint and load it weights-only.

    As MMEngine's ``load_from_http``: rank 0 downloads first, the other
    ranks then read the cached file.

    Args:
        filename (str): The URL.
        map_location (Any): As in :func:`torch.load`. Defaults to None.
        model_dir (str, optional): Download folder. Defaults to
            ``<torch hub dir>/checkpoints``.
        progress (bool, optional): Show a progress bar. Defaults to None:
            when stdin is a terminal.

    Returns:
        Any: The checkpoint.
    """
    if progress is None:
        progress = os.isatty(0)
    rank, world_size = get_dist_info()
    if rank == 0:
        path = _download(filename, model_dir, progress)
    if world_size > 1:
        barrier()
        if rank > 0:
            path = _download(filename, model_dir, progress)
    return load_checkpoint_safely(path, map_location=map_location)


def register_safe_checkpoint_loaders() -> None:
    """Make MMEngine load every checkpoint weights-only, in this process.

    Allow-lists the types of MMEngine checkpoints, then replaces the loaders
    of ``CheckpointLoader`` for local paths and ``http(s)://``, and
    ``load_from_http``. Call it before building the ``Runner``.
    """
    register_checkpoint_safe_globals()
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_safely, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_from_http_safely,
        force=True)
    # ``torchvision://``, ``open-mmlab://`` and ``mmcls://`` call the module
    # function directly, not through the registry.
    mmengine_checkpoint.load_from_http = load_from_http_safely
