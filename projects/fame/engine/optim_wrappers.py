# Copyright (c) OpenMMLab. All rights reserved.
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase

from ..utils import ConfigError


class _SkipNonFiniteMixin:
    """Skip the update of a step whose loss is not finite on any process
    (it would write NaN into every weight, the key encoder and the queue);
    the normalisation layers get back their running statistics.

    Args:
        max_consecutive_skips (int): Stop with an error after this many
            skipped steps in a row: the run has diverged. Defaults to 100.
        **kwargs: The arguments of the wrapped optimizer wrapper.
    """

    def __init__(self,
                 *args,
                 max_consecutive_skips: int = 100,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if max_consecutive_skips < 1:
            raise ConfigError('optim_wrapper.max_consecutive_skips',
                              f'must be >= 1, got {max_consecutive_skips}')
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self._consecutive_skips = 0
        self._running_stats: List[Tuple[Tensor, Tensor]] = []

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """The wrapped context, after copying the running statistics."""
        self._running_stats = [(stat, stat.clone())
                               for module in model.modules()
                               if isinstance(module, _NormBase)
                               for stat in module.buffers(recurse=False)]
        with super().optim_context(model):
            yield

    def update_params(self,
                      loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """``OptimWrapper.update_params`` if ``loss`` is finite everywhere;
        a RuntimeError after ``max_consecutive_skips`` skips in a row."""
        running_stats, self._running_stats = self._running_stats, []
        finite = torch.isfinite(loss.detach()).all().float()
        if get_world_size() > 1:
            all_reduce(finite, op='min')  # skip everywhere, or nowhere
        if finite.item():
            self._consecutive_skips = 0
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        with torch.no_grad():
            for stat, saved in running_stats:
                stat.copy_(saved)
        self.skipped_steps += 1
        self._consecutive_skips += 1
        iteration = MessageHub.get_current_instance().get_info('iter')
        where = '' if iteration is None else f' at iteration {iteration + 1}'
        print_log(
            f'Non-finite loss{where} (local value {loss.item()}): skipped '
            f'the update, weights unchanged ({self.skipped_steps} steps '
            'skipped in this run)',
            logger='current',
            level=logging.WARNING)
        if self._consecutive_skips >= self.max_consecutive_skips:
            raise RuntimeError(
                f'The loss was not finite for {self._consecutive_skips} '
                'steps in a row (optim_wrapper.max_consecutive_skips): the '
                'run has diverged. The weights are those of the last finite '
                'step; lower the learning rate or check the data and resume '
                'from the last checkpoint.')


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(_SkipNonFiniteMixin, OptimWrapper):
    """``OptimWrapper`` that skips steps whose loss is not finite (args: as
    :class:`_SkipNonFiniteMixin` and ``OptimWrapper``)."""


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFiniteMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` that skips steps whose loss is not finite (the
    scaler handles non-finite gradients of a finite loss). Args: as
    :class:`_SkipNonFiniteMixin` and ``AmpOptimWrapper``."""

    def step(self, **kwargs) -> None:
        """The scaler's step, with zero momentum buffers for a fused SGD's
        first step: its own ``torch.empty_like`` ones stay uninitialised when
        the scaler skips that step (zeros give ``momentum * 0 + grad``)."""
        optimizer = self.optimizer
        if not optimizer.state and isinstance(optimizer, torch.optim.SGD):
            for group in optimizer.param_groups:
                if (group.get('fused') and group['momentum'] != 0
                        and group['dampening'] == 0):
                    for param in group['params']:
                        if param.grad is not None:
                            optimizer.state[param]['momentum_buffer'] = \
                                torch.zeros_like(param.grad)
        super().step(**kwargs)
