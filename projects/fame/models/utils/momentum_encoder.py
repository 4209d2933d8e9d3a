# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.model import ExponentialMovingAverage
from torch import Tensor, nn


@MODELS.register_module()
class MomentumEncoder(ExponentialMovingAverage):
    """MMEngine's ``ExponentialMovingAverage`` without a host read per step.

    The same averaged model, numbers and state dict (its ``steps`` buffer
    included) as :class:`mmengine.model.ExponentialMovingAverage`, with a
    cheaper update:

    - MMEngine decides between the first update (a copy) and the later ones
      (an average) by reading its ``steps`` buffer, a device tensor: one
      host-device synchronisation per step. This class keeps a host copy of
      the count, which ``load_state_dict`` sets from the loaded ``steps``, so
      that a resumed run continues exactly; the buffer is still counted on
      the device, and saved, but never read during training.
    - MMEngine updates the parameters and buffers one by one in a Python
      loop; here one ``torch._foreach_lerp_`` averages all the floating
      point tensors (``torch._foreach_copy_`` copies them at the first
      update) and one ``torch._foreach_copy_`` copies the buffers.

    The lists of averaged tensors are made at the first update and made
    again after ``to()``, ``cuda()`` or ``half()``, which replace the
    buffers.

    Args:
        model (nn.Module): The model to be averaged.
        momentum (float): Weight of the source model in an update:
            ``averaged = (1 - momentum) * averaged + momentum * source``.
            Defaults to 0.0002.
        interval (int): Interval between two updates. Defaults to 1.
        device (torch.device, optional): If given, the averaged model is kept
            on this device. Defaults to None.
        update_buffers (bool): Whether to average the floating point buffers
            too (else they are copied from the source at every update).
            Defaults to False.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum: float = 0.0002,
                 interval: int = 1,
                 device: Optional[torch.device] = None,
                 update_buffers: bool = False) -> None:
        super().__init__(model, momentum, interval, device, update_buffers)
        # The number of updates so far, on the host (``steps`` on the
        # device).
        self.host_steps = 0
        self._targets: Optional[Tuple[List[Tensor], List[int],
                                      List[Tensor]]] = None

    def _apply(self, *args, **kwargs) -> 'MomentumEncoder':
        """``Module._apply``; the lists of averaged tensors are made again."""
        self._targets = None
        return super()._apply(*args, **kwargs)

    def _averaged(self) -> Tuple[List[Tensor], List[int], List[Tensor]]:
        """The averaged tensors, the indices of the floating point ones and
        the buffers copied from the source."""
        if self._targets is None:
            if self.update_buffers:
                averaged = list(
                    self.module.state_dict(keep_vars=True).values())
                buffers = []
            else:
                averaged = list(self.module.parameters())
                buffers = list(self.module.buffers())
            floating = [
                i for i, t in enumerate(averaged) if t.is_floating_point()
            ]
            self._targets = averaged, floating, buffers
        return self._targets

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average ``model`` into this one, as MMEngine's EMA does.

        The first update copies ``model``'s parameters (its state dict when
        ``update_buffers``); every ``interval``-th later one moves the
        floating point ones towards ``model``'s by ``momentum``. Without
        ``update_buffers`` the buffers are copied at every update.

        Args:
            model (nn.Module): The model averaged, of the same architecture
                as this one's ``module`` (tensors are matched by position).
        """
        averaged, floating, buffers = self._averaged()
        sources = (
            list(model.state_dict().values())
            if self.update_buffers else list(model.parameters()))
        if len(sources) != len(averaged):
            raise ValueError(
                f'{type(self).__name__}: the source model has '
                f'{len(sources)} tensors to average, the averaged one '
                f'{len(averaged)}')
        if sources and sources[0].device != averaged[0].device:
            sources = [s.to(a.device) for s, a in zip(sources, averaged)]
        if self.host_steps == 0:
            if averaged:
                torch._foreach_copy_(averaged, sources)
        elif self.host_steps % self.interval == 0 and floating:
            if len(floating) == len(averaged):
                targets = averaged
            else:
                targets = [averaged[i] for i in floating]
                sources = [sources[i] for i in floating]
            torch._foreach_lerp_(targets, sources, self.momentum)
        if buffers:
            source_buffers = list(model.buffers())
            if len(source_buffers) != len(buffers):
                raise ValueError(
                    f'{type(self).__name__}: the source model has '
                    f'{len(source_buffers)} buffers, the averaged one '
                    f'{len(buffers)}')
            torch._foreach_copy_(buffers, source_buffers)
        self.steps.add_(1)
        self.host_steps += 1

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Load ``steps`` (and read it once, into the host count)."""
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        steps = state_dict.get(prefix + 'steps')
        if isinstance(steps, Tensor) and steps.numel() == 1:
            self.host_steps = int(steps)
