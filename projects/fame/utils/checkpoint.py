# Copyright (c) OpenMMLab. All rights reserved.
"""Weights-only checkpoint loading, and checking a checkpoint against a model.

MMEngine 0.10.x calls ``torch.load`` without ``weights_only``: a URL's
checkpoint could run code, and torch's weights-only default refuses its
``HistoryBuffer``. Here all loads are weights-only, MMEngine's types allowed.
"""
import os
import os.path as osp
import pickle
from typing import Any, Callable, Dict, List, Mapping, Optional, Union
from urllib.parse import urlparse

import mmengine.runner.checkpoint as mmengine_checkpoint
import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader
from mmengine.utils import digit_version

try:  # numpy >= 2.0
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover - numpy < 2.0
    from numpy.core import multiarray as _np_multiarray

MapLocation = Union[str, torch.device, Callable, Dict[str, str], None]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint was refused because it holds non-allow-listed types."""


class UnreadableCheckpointError(ValueError):
    """A checkpoint file is empty, truncated or no checkpoint at all."""


class CheckpointMismatchError(ValueError):
    """A checkpoint to resume from holds another model's weights."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``builtins.getattr`` while unpickling, for ``HistoryBuffer``'s
    statistics methods only (the real one would reach any attribute)."""
    if obj is HistoryBuffer and name in ('min', 'max', 'mean', 'current'):
        return getattr(obj, name)
    owner = obj.__qualname__ if isinstance(obj, type) else type(obj).__name__
    raise pickle.UnpicklingError(
        f'getattr({owner}, {name!r}) is not in the checkpoint allow-list; '
        'only the default HistoryBuffer statistics methods may be looked up')


def register_checkpoint_safe_globals() -> None:
    """Allow-list the types of MMEngine checkpoints for weights-only loads
    (idempotent; a no-op on torch < 2.6, whose ``add_safe_globals`` takes no
    ``(obj, 'full.path')`` pairs)."""
    if digit_version(torch.__version__) < digit_version('2.6.0'):
        return
    # ``message_hub.log_scalars`` holds HistoryBuffers of numpy arrays, which
    # pickle their ``_statistics_methods`` as ``getattr(HistoryBuffer, ..)``.
    allow_list = [
        HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'),
        np.ndarray, np.dtype
    ]
    # ``np.dtype('f8', ...)`` unpickles to a per-dtype subclass: float64
    # (histories, ``eta``), int64 (counts), int32 (numpy 1.x's int on
    # Windows), float32 (metric values such as ``best_score``).
    allow_list += [
        type(np.dtype(t)) for t in (np.float64, np.int64, np.int32, np.float32)
    ]
    # Arrays and numpy scalars, under numpy 2.x's and 1.x's module names.
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        allow_list += [(_np_multiarray._reconstruct, f'{module}._reconstruct'),
                       (_np_multiarray.scalar, f'{module}.scalar')]
    torch.serialization.add_safe_globals(allow_list)


def load_checkpoint_safely(path: Union[str, os.PathLike],
                           map_location: MapLocation = 'cpu') -> Any:
    """Returns the checkpoint at ``path``, loaded with ``weights_only=True``
    and the allow-list.

    Args:
        path (str | os.PathLike): The checkpoint file.
        map_location (str | torch.device | Callable | dict, optional): As in
            :func:`torch.load`. Defaults to ``'cpu'``.

    Raises:
        UnsafeCheckpointError: If it holds types outside the allow-list.
        UnreadableCheckpointError: If it is empty, truncated or no checkpoint.
    """
    register_checkpoint_safe_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (EOFError, KeyError, OSError, RuntimeError) as err:
        # torch's errors for an empty file, a text file, a cut zip archive;
        # not those of opening the file (which name it) or of the device.
        if (isinstance(err, OSError)
                and err.filename is not None) or (isinstance(
                    err, RuntimeError) and 'zip archive' not in str(err)):
            raise
        reason = str(err).split('. ')[0]
        raise UnreadableCheckpointError(
            f'Cannot read checkpoint {os.fspath(path)!r}: it is empty, '
            'truncated (a copy or a save that did not finish?) or not a '
            f'checkpoint ({type(err).__name__}{": " if reason else ""}'
            f'{reason}).') from err
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {os.fspath(path)!r}: it contains '
            'types outside the checkpoint allow-list and was refused for '
            f'safety ({_refusal_reason(str(err))}).') from err


def _refusal_reason(message: str) -> str:
    """What torch refused, without its advice to load with
    ``weights_only=False`` or to allow-list the global (no longer safe)."""
    lines = [
        line.split('. Please use')[0].strip().rstrip('.') for line in
        message.replace('WeightsUnpickler error:', '\n').splitlines()
    ]
    reasons = [line for line in lines if 'GLOBAL' in line] or [
        line for line in lines if line and 'weights_only' not in line
        and not line.startswith(('Weights only', 'Check the documentation'))
    ]
    return reasons[0] if reasons else 'a type outside the allow-list'


def load_from_local_safely(filename: str, map_location: Any = None) -> Any:
    """Returns a local checkpoint loaded weights-only (MMEngine's ``''``
    scheme).

    Args:
        filename (str): The checkpoint path.
        map_location (Any): As in :func:`torch.load`. Defaults to None.
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
    """Returns a downloaded checkpoint (rank 0 downloads first, as in
    MMEngine's ``load_from_http``), loaded weights-only.

    Args:
        filename (str): The URL.
        map_location (Any): As in :func:`torch.load`. Defaults to None.
        model_dir (str, optional): Download folder. Defaults to None:
            ``<torch hub dir>/checkpoints``.
        progress (bool, optional): Show a progress bar. Defaults to None:
            when stdin is a terminal.
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
    """Make MMEngine's ``CheckpointLoader`` load local and ``http(s)://``
    checkpoints weights-only in this process; call it before building the
    ``Runner``. Not called on import, as it acts process-wide."""
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


def check_state_dict(saved: Mapping[str, Any],
                     model_state: Mapping[str, Any],
                     source: str = 'it',
                     prefix: str = '',
                     min_fraction: float = 1.,
                     strict: bool = False) -> None:
    """Refuse a checkpoint's weights that do not fill a model, ignoring a DDP
    ``module.`` prefix and BatchNorm's ``num_batches_tracked``.

    Args:
        saved (Mapping): The checkpoint's state dict.
        model_state (Mapping): The model's state dict.
        source (str): The checkpoint's name in messages. Defaults to ``'it'``.
        prefix (str): Compare only keys starting with it. Defaults to ``''``.
        min_fraction (float): The share of the model's tensors the
            checkpoint must hold, in their shape. Defaults to 1.
        strict (bool): Refuse tensors not in the model. Defaults to False.

    Raises:
        CheckpointMismatchError: Counting the missing, reshaped and
            (``strict``) unexpected tensors, with an example each.
    """
    saved = {k.removeprefix('module.'): v for k, v in saved.items()}

    def compared(state: Mapping) -> List[str]:
        return [
            k for k in state
            if k.startswith(prefix) and not k.endswith('num_batches_tracked')
        ]

    expected = compared(model_state)
    missing = [k for k in expected if k not in saved]
    shapes = [
        f'{k}: checkpoint {tuple(saved[k].shape)} vs model '
        f'{tuple(model_state[k].shape)}' for k in expected
        if k in saved and saved[k].shape != model_state[k].shape
    ]
    unexpected = [k for k in compared(saved)
                  if k not in model_state] if strict else []
    matched = len(expected) - len(missing) - len(shapes)
    if matched >= min_fraction * len(expected) and not unexpected:
        return
    problems = (('are not in it', missing), ('have another shape', shapes),
                ('are not in the model', unexpected))
    reasons = [
        f'{len(items)} {what} (e.g. {items[0]})' for what, items in problems
        if items
    ]
    part = f'{prefix.rstrip(".")} ' if prefix else ''
    raise CheckpointMismatchError(
        f'{source} fills only {matched} of the {len(expected)} {part}'
        f'tensors of the model: {"; ".join(reasons)}.')
