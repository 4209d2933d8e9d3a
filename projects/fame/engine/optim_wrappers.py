# Copyright (c) OpenMMLab. All rights reserved.
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, NamedTuple, Optional

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
        self.sizes = [[getattr(m, name).numel() for m in self.modules]
                      for name in _STATS]
        self.saved = [
            torch.cat([getattr(m, name).flatten() for m in self.modules])
            for name in _STATS
        ] if self.modules else []

    @torch.no_grad()
    def restore(self, keep: Optional[Tensor] = None) -> None:
        """Put the copied statistics back into the layers.

        Args:
            keep (Tensor, optional): A boolean scalar on the device of the
                statistics: where it is true, the layers keep their current
                statistics. Chosen on the device, without a host read.
                Defaults to None (always put them back).
        """
        for name, sizes, saved in zip(_STATS, self.sizes, self.saved):
            stats = [getattr(m, name) for m in self.modules]
            if keep is not None:
                current = torch.cat([s.flatten() for s in stats])
                saved = torch.where(keep, current, saved)
            torch._foreach_copy_(
                stats,
                [v.view_as(s) for v, s in zip(saved.split(sizes), stats)])


class _Pending(NamedTuple):
    """The finiteness flag and loss of a step, on their way to the host."""

    values: Tensor  # (finite, loss), on the host or, lazily read, a device
    ready: Optional[torch.cuda.Event]  # recorded after the copy to the host
    iteration: Optional[int]


def _zero_first_momentum(optimizer: torch.optim.Optimizer) -> None:
    """Give the momentum buffers of a fused SGD's first step zeros.

    PyTorch's fused SGD makes its buffers at its first step with
    ``torch.empty_like``, and leaves them so when ``found_inf`` skips that
    step (as ``GradScaler`` does when the first scaled gradients overflow):
    the next steps would start from uninitialised memory. With zero buffers
    and no dampening, the first step gives the same buffers
    (``momentum * 0 + grad``) as PyTorch's first step (``grad``).

    Args:
        optimizer (torch.optim.Optimizer): The optimizer about to step.
    """
    if optimizer.state or not isinstance(optimizer, torch.optim.SGD):
        return  # past its first step
    for group in optimizer.param_groups:
        if (group.get('fused') and group['momentum'] != 0
                and group['dampening'] == 0):
            for param in group['params']:
                if param.grad is not None:
                    optimizer.state[param]['momentum_buffer'] = \
                        torch.zeros_like(param.grad)


class _SkipNonFiniteMixin:
    """Skip the update of a step whose loss is not finite.

    A NaN or infinite loss would write NaN into every weight through its
    gradients, and from there into the key encoder and the queue. Instead,
    when the loss of any process is not finite, every process skips the
    optimizer step (the decision is shared: all-reduced on the device), and
    a warning names the step. The model keeps its weights and optimizer
    state, and its normalisation layers the running statistics they had
    before the step's forward pass (copied at every step, a few kilobytes).

    Two ways to skip:

    - On the device, with no host-device synchronisation, when the optimizer
      takes a ``found_inf`` flag as ``GradScaler`` gives it (PyTorch's fused
      optimizers: ``SGD``, ``Adam``, ``AdamW`` with ``fused=True``): the
      backward pass always runs, the optimizer is told to skip its whole
      step when the loss is not finite (weights, momentum and weight decay
      untouched), and the running statistics are chosen with
      ``torch.where``. The flag reaches the host with a non-blocking copy
      and is read at the next step (on CUDA it then waits for the step it
      belongs to only), or when ``skipped_steps`` or ``state_dict`` is
      read: the warning and the ``max_consecutive_skips`` error come one
      step late. The first step of a fresh optimizer is taken the other
      way: PyTorch's fused SGD leaves the momentum buffers of a skipped
      first step uninitialised.
    - Otherwise (another optimizer, gradient accumulation, the AMP
      wrapper), the flag is read on the host before the backward pass, and
      a skipped step has no backward pass either.

    Args:
        max_consecutive_skips (int): Stop with an error after this many
            skipped steps in a row: the run has diverged. Defaults to 100.
        **kwargs: The arguments of the wrapped optimizer wrapper.
    """

    # Whether the step may be skipped on the device (see above).
    _skips_on_device = True

    def __init__(self,
                 *args,
                 max_consecutive_skips: int = 100,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if max_consecutive_skips < 1:
            raise ValueError('optim_wrapper.max_consecutive_skips must be '
                             f'>= 1, got {max_consecutive_skips}')
        self.max_consecutive_skips = max_consecutive_skips
        self._skipped_steps = 0
        self._consecutive_skips = 0
        self._saved_stats: Optional[_RunningStats] = None
        self._pending: Optional[_Pending] = None
        self._divergence: Optional[str] = None
        self._stepped = False

    @property
    def skipped_steps(self) -> int:
        """int: Steps skipped in this run (reads the last step's flag)."""
        self._read_pending()
        return self._skipped_steps

    def state_dict(self) -> dict:
        """The wrapped state dict, after reading the last step's flag."""
        self._read_pending()
        return super().state_dict()

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

        Raises:
            RuntimeError: After ``max_consecutive_skips`` skipped steps in a
                row (with the skip on the device, at the step after).
        """
        self._read_pending()
        self._raise_if_diverged()
        finite = torch.isfinite(loss.detach()).all().float()
        if get_world_size() > 1:
            all_reduce(finite, op='min')  # a collective, not a host read
        if self._can_skip_on_device():
            self._update_or_skip_on_device(loss, finite, step_kwargs,
                                           zero_kwargs)
        else:
            self._update_or_skip_on_host(loss, finite, step_kwargs,
                                         zero_kwargs)

    def _can_skip_on_device(self) -> bool:
        """Whether this step can be skipped by the optimizer, on the device.

        The optimizer must take ``found_inf`` (``GradScaler``'s contract,
        ``_step_supports_amp_scaling``) in every parameter group, step at
        every update (no gradient accumulation), and be past its first step.
        """
        optimizer = self.optimizer
        return (self._skips_on_device
                and getattr(optimizer, '_step_supports_amp_scaling', False)
                and all(
                    group.get('fused', True)
                    for group in optimizer.param_groups)
                and self._accumulative_counts == 1
                and (self._stepped or bool(optimizer.state)))

    def _update_or_skip_on_host(self, loss: Tensor, finite: Tensor,
                                step_kwargs: Optional[Dict],
                                zero_kwargs: Optional[Dict]) -> None:
        """Read ``finite`` now; update, or skip the backward pass too."""
        if finite.item():
            self._saved_stats = None
            super().update_params(loss, step_kwargs, zero_kwargs)
            self._stepped = True
            self._count(True, 0., None)
            return
        if self._saved_stats is not None:
            self._saved_stats.restore()
            self._saved_stats = None
        self._count(False, loss.item(),
                    MessageHub.get_current_instance().get_info('iter'))
        self._raise_if_diverged()

    def _update_or_skip_on_device(self, loss: Tensor, finite: Tensor,
                                  step_kwargs: Optional[Dict],
                                  zero_kwargs: Optional[Dict]) -> None:
        """Update; the optimizer skips the step if ``finite`` is 0."""
        self._send_to_host(
            torch.stack([finite, loss.detach().float().reshape(())]))
        optimizer = self.optimizer
        optimizer.found_inf = 1 - finite
        try:
            super().update_params(loss, step_kwargs, zero_kwargs)
        finally:
            del optimizer.found_inf
        if self._saved_stats is not None:
            self._saved_stats.restore(keep=finite.bool())
            self._saved_stats = None

    def _send_to_host(self, values: Tensor) -> None:
        """Start copying the step's (finite, loss) to the host."""
        device = values.device.type
        ready = None
        if device in ('cuda', 'meta'):  # meta: the benchmark's stand-in
            host = torch.empty(
                values.shape, dtype=values.dtype, pin_memory=device == 'cuda')
            host.copy_(values, non_blocking=True)
            if device == 'cuda':
                ready = torch.cuda.Event()
                ready.record()
            values = host
        # On the CPU there is nothing to wait for; other devices are read
        # (with a synchronisation) at the next step.
        self._pending = _Pending(
            values, ready,
            MessageHub.get_current_instance().get_info('iter'))

    def _read_pending(self) -> None:
        """Count the step whose flag is on its way to the host, if any."""
        if self._pending is None:
            return
        values, ready, iteration = self._pending
        self._pending = None
        if ready is not None:
            ready.synchronize()  # that step's copy only, not later work
        finite, loss_value = values.tolist()
        self._count(bool(finite), loss_value, iteration)

    def _count(self, finite: bool, loss_value: float,
               iteration: Optional[int]) -> None:
        """Count a step, warn if it was skipped.

        Args:
            finite (bool): Whether the loss was finite on every process.
            loss_value (float): This process's loss.
            iteration (int, optional): The runner's (0-based) iteration.
        """
        if finite:
            self._consecutive_skips = 0
            return
        self._skipped_steps += 1
        self._consecutive_skips += 1
        where = (f' at iteration {iteration + 1}'
                 if iteration is not None else '')
        print_log(
            f'Non-finite loss{where} (local value {loss_value}): skipped '
            f'the update, weights unchanged ({self._skipped_steps} steps '
            'skipped in this run)',
            logger='current',
            level=logging.WARNING)
        if self._consecutive_skips >= self.max_consecutive_skips:
            self._divergence = (
                f'The loss was not finite for {self._consecutive_skips} '
                'steps in a row (optim_wrapper.max_consecutive_skips): the '
                'run has diverged. The weights are those of the last finite '
                'step; lower the learning rate or check the data and resume '
                'from the last checkpoint.')

    def _raise_if_diverged(self) -> None:
        """Raise the error of ``max_consecutive_skips``, once, if due."""
        if self._divergence is not None:
            message, self._divergence = self._divergence, None
            raise RuntimeError(message)


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(_SkipNonFiniteMixin, OptimWrapper):
    """``OptimWrapper`` that skips steps whose loss is not finite.

    See :class:`_SkipNonFiniteMixin`; ``--amp`` turns it into
    :class:`SkipNonFiniteAmpOptimWrapper`. With a fused optimizer (the
    shipped schedules' ``SGD(fused=True)``) the skip is decided on the
    device, with no host-device synchronisation per step.
    """


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFiniteMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` that skips steps whose loss is not finite.

    The loss is checked (on the host) before it is scaled: a non-finite
    loss leaves the loss scale alone, while non-finite gradients of a finite
    loss are left to the gradient scaler, which skips that step and lowers
    the scale. (The scaler gives a fused optimizer its own ``found_inf``,
    so the skip is not decided on the device here.) A fused SGD's first
    step gets zero momentum buffers (see :func:`_zero_first_momentum`), so
    that a first step skipped by the scaler leaves no uninitialised memory
    behind.
    """

    _skips_on_device = False

    def step(self, **kwargs) -> None:
        """The scaler's step, after preparing a fused SGD's first step.

        Args:
            **kwargs: Keyword arguments of ``optimizer.step``.
        """
        _zero_first_momentum(self.optimizer)
        super().step(**kwargs)
