# Copyright (c) OpenMMLab. All rights reserved.
"""Crash-safe file writes, and the lock of a run's work dir."""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import IO, Dict, List, Union

import mmengine
from mmengine.fileio import LocalBackend, register_backend

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

TEMP_SUFFIX = '.partial'  # of hidden temporaries beside their target
# ``flock``-ed by a work dir's run; freed when it ends, however it ends.
LOCK_NAME = '.run.lock'
_held_locks: Dict[str, IO] = {}


def write_atomic(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to a flushed temporary renamed over ``filepath``, which
    is thus either untouched or complete.

    Args:
        data (bytes): The file content.
        filepath (str | Path): The file to write.
    """
    folder, name = osp.split(osp.abspath(filepath))
    mmengine.mkdir_or_exist(folder)
    fd, temp = tempfile.mkstemp(
        prefix=f'.{name}.', suffix=TEMP_SUFFIX, dir=folder)
    # ``mkstemp`` makes the file 0600; give it the umask's permissions, as
    # a plain ``open`` would.
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.chmod(temp, 0o666 & ~umask)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, filepath)
    except BaseException as err:
        if osp.exists(temp):
            os.remove(temp)
        if isinstance(err, OSError) and err.errno and err.filename is None:
            # A full disk (ENOSPC) names no file by itself.
            raise OSError(err.errno, err.strerror,
                          os.fspath(filepath)) from None
        raise
    # Persist the rename itself (the folder entry); not possible on Windows.
    if hasattr(os, 'O_DIRECTORY'):
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def lock_work_dir(folder: Union[str, Path]) -> None:
    """Lock ``folder`` for this process until it ends or unlocks it; raises
    RuntimeError if another live process holds it.

    Args:
        folder (str | Path): The work dir.
    """
    folder = osp.realpath(folder)
    if fcntl is None or folder in _held_locks:
        return
    mmengine.mkdir_or_exist(folder)
    lock = open(osp.join(folder, LOCK_NAME), 'a+')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        owner = lock.read().strip() or '?'
        lock.close()
        raise RuntimeError(
            f'The work dir {folder} is in use by another run (pid {owner}): '
            'its checkpoints would overwrite each other. Choose another '
            '--work-dir, or wait for that run to end.') from None
    lock.truncate(0)
    lock.write(f'{os.getpid()}\n')
    lock.flush()
    _held_locks[folder] = lock


def unlock_work_dir(folder: Union[str, Path]) -> None:
    """Release :func:`lock_work_dir`'s lock on ``folder``, if held.

    Args:
        folder (str | Path): The work dir.
    """
    lock = _held_locks.pop(osp.realpath(folder), None)
    if lock is not None:
        lock.close()


def remove_stale_temporaries(folder: Union[str, Path]) -> List[str]:
    """Returns the temporaries that killed :func:`write_atomic` calls left,
    after deleting them.

    Args:
        folder (str | Path): The folder to clean.
    """
    removed = []
    if osp.isdir(folder):
        for entry in os.scandir(folder):
            if (entry.is_file() and entry.name.startswith('.')
                    and entry.name.endswith(TEMP_SUFFIX)):
                os.remove(entry.path)
                removed.append(entry.path)
    return removed


@register_backend('local_atomic', force=True)
class AtomicLocalBackend(LocalBackend):
    """Local storage whose ``put`` (MMEngine's checkpoint writes) replaces
    files atomically: ``backend_args=dict(backend='local_atomic')``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomic(obj, filepath)
