# Copyright (c) OpenMMLab. All rights reserved.
import glob
import os
import os.path as osp
from pathlib import Path
from typing import Optional

from mmaction.registry import HOOKS
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from ...utils import check_state_dict
from ..fileio import (lock_work_dir, remove_stale_temporaries,
                      unlock_work_dir, write_atomic)

POINTER = 'last_checkpoint'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files survive a crash, in a locked work dir.

    A process killed while saving must not leave a truncated checkpoint for
    ``--resume auto``: checkpoints and the ``last_checkpoint`` pointer are
    replaced atomically, and a second run in the work dir is refused. Keep
    ``max_keep_ckpts`` >= 2: MMEngine deletes the oldest checkpoint first.

    Args:
        out_dir (str, optional): As in ``CheckpointHook``. Defaults to None.
        backend_args (dict, optional): As in ``CheckpointHook``. Defaults to
            ``dict(backend='local_atomic')`` for local folders.
        file_client_args (dict, optional): Deprecated. Defaults to None.
        **kwargs: The other arguments of ``CheckpointHook``.
    """

    def __init__(self,
                 out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 file_client_args: Optional[dict] = None,
                 **kwargs) -> None:
        local = out_dir is None or '://' not in str(out_dir)
        if backend_args is None and file_client_args is None and local:
            backend_args = dict(backend='local_atomic')
        super().__init__(
            out_dir=out_dir,
            backend_args=backend_args,
            file_client_args=file_client_args,
            **kwargs)

    def before_run(self, runner) -> None:
        """Lock the work dir; clean up after a crash mid-write (an empty
        ``last_checkpoint`` names the newest checkpoint)."""
        if is_main_process():
            lock_work_dir(runner.work_dir)
            remove_stale_temporaries(runner.work_dir)
            self._repair_pointer(runner)
        barrier()  # every rank reads the pointer when it resumes

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and '://' not in str(self.out_dir):
            lock_work_dir(self.out_dir)
            for path in remove_stale_temporaries(self.out_dir):
                runner.logger.warning(
                    f'Removed {path}, left by a checkpoint write that was '
                    'killed')

    def after_run(self, runner) -> None:
        if is_main_process():
            unlock_work_dir(runner.work_dir)
            if self.out_dir is not None:
                unlock_work_dir(self.out_dir)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to resume from another model's checkpoint: MMEngine loads
        the weights that fit and only warns, and an optimizer state of as
        many parameters (another width) loads too. ``load_from`` without
        resuming is not checked."""
        if not runner._resume:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_state_dict(checkpoint.get('state_dict', {}), model.state_dict())

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():
            # MMEngine rewrites the pointer in place; replace it whole.
            write_atomic(self.last_ckpt.encode(),
                         osp.join(runner.work_dir, POINTER))

    @staticmethod
    def _repair_pointer(runner) -> None:
        pointer = osp.join(runner.work_dir, POINTER)
        if not osp.isfile(pointer) or Path(pointer).read_text().strip():
            return
        checkpoints = glob.glob(osp.join(runner.work_dir, '*.pth'))
        if not checkpoints:
            os.remove(pointer)
            runner.logger.warning(f'Removed {pointer}, which was empty')
            return
        newest = max(checkpoints, key=osp.getmtime)
        write_atomic(newest.encode(), pointer)
        runner.logger.warning(f'{pointer} was empty; it now names {newest}')
