# Copyright (c) OpenMMLab. All rights reserved.
"""Route every checkpoint MMEngine reads through the weights-only loader.

MMEngine reads checkpoints (``Runner`` resume and ``load_from``,
``load_checkpoint``, a backbone's ``pretrained=`` / ``init_cfg``) through
``CheckpointLoader``, whose loaders call ``torch.load`` without
``weights_only``. Local files then load weights-only only while torch's
default says so (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` turns it off), and
URLs go through ``torch.hub.load_state_dict_from_url``, which defaults to
``weights_only=False``: a downloaded checkpoint could run code. The loaders
registered here pass ``weights_only=True`` with the allow-list of
:mod:`projects.fame.utils.checkpoint`, for local paths and for
``http(s)://`` (which MMEngine's ``torchvision://``, ``open-mmlab://`` and
``mmcls://`` schemes resolve to).

They replace MMEngine's loaders process-wide, so importing ``projects.fame``
does not register them: :func:`register_safe_checkpoint_loaders` is called
explicitly, by ``tools/train.py`` and ``tools/test.py`` before they build
the ``Runner`` (a script of your own that builds one calls it likewise).
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
        map_location (Any): As in :func:`torch.load`.

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

    As MMEngine's ``load_from_http``: local rank 0 downloads first, the
    other ranks then read the cached file.

    Args:
        filename (str): The URL.
        map_location (Any): As in :func:`torch.load`.
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
    """Make MMEngine's checkpoint loading weights-only for every source.

    Replaces the loaders of MMEngine's ``CheckpointLoader`` for local paths
    and ``http(s)://`` (and ``load_from_http``, which the other URL schemes
    call) in this process, after allow-listing the types of MMEngine
    checkpoints. Call it before building the ``Runner``.
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
