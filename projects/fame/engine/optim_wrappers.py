# Copyright (c) OpenMMLab. All rights reserved.
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import torch
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor, nn

_STATS = ('running_mean', 'running_var', 'num_batches_tracked')


class _RunningStats:
    """A copy of the running statistics of a model's normalisation layers.

    Each statistic of all layers is copied into one flat tensor: three
    copies per step, whatever the depth of the model.
    """

    def __init__(self, model: nn.Module) -> None:
        self.modules = [
            m for m in model.modules() if all(
                isinstance(getattr(m, n, None), Tensor) for n in _STATS)
        ]
        self.saved = [
            torch.cat([getattr(m, name).flatten() for m in self.modules])
            for name in _STATS
        ] if self.modules else []

    @torch.no_grad()
    def restore(self) -> None:
        """Put the copied statistics back into the layers."""
        for name, saved in zip(_STATS, self.saved):
            stats = [getattr(m, name) for m in self.modules]
            for stat, value in zip(stats,
                                   saved.split([s.numel() for s in stats])):
                stat.copy_(value.view_as(stat))


class _SkipNonFiniteMixin:
    """Skip the update of a step whose loss is not finite.

    A NaN or infinite loss would write NaN into every weight through its
    gradients, and from there into the key encoder and the queue. Instead,
    when the loss of any process is not finite, every process skips the
    backward pass and the optimizer step (the decision is shared, so that
    DDP's gradient all-reduce never waits for a process that skipped), and
    a warning says so. The model keeps its weights and optimizer state, and
    its normalisation layers the running statistics they had before the
    step's forward pass (copied at every step, a few kilobytes).

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
            raise ValueError('optim_wrapper.max_consecutive_skips must be '
                             f'>= 1, got {max_consecutive_skips}')
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self._consecutive_skips = 0
        self._saved_stats: Optional[_RunningStats] = None

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """The wrapped context, after saving the running statistics."""
        self._saved_stats = _RunningStats(model)
        with super().optim_context(model):
            yield

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Update the parameters with ``loss`` if it is finite everywhere.

        Args:
            loss (torch.Tensor): The loss of this step.
            step_kwargs (dict, optional): As ``OptimWrapper.update_params``.
            zero_kwargs (dict, optional): As ``OptimWrapper.update_params``.
        """
        finite = torch.isfinite(loss.detach()).all().float()
        if get_world_size() > 1:
            all_reduce(finite, op='min')
        if finite.item():
            self._consecutive_skips = 0
            self._saved_stats = None
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        if self._saved_stats is not None:
            self._saved_stats.restore()
        self.skipped_steps += 1
        self._consecutive_skips += 1
        step = MessageHub.get_current_instance().get_info('iter')
        where = f' at iteration {step + 1}' if step is not None else ''
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
    """``OptimWrapper`` that skips steps whose loss is not finite.

    See :class:`_SkipNonFiniteMixin`; ``--amp`` turns it into
    :class:`SkipNonFiniteAmpOptimWrapper`.
    """


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFiniteMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` that skips steps whose loss is not finite.

    The loss is checked before it is scaled: a non-finite loss leaves the
    loss scale alone, while non-finite gradients of a finite loss are left
    to the gradient scaler, which skips that step and lowers the scale.
    """
