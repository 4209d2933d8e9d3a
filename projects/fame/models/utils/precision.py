# Copyright (c) OpenMMLab. All rights reserved.
from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def autocast_off(device: torch.device) -> Iterator[None]:
    """Compute in full precision inside, even under mixed precision.

    Under ``--amp`` MMEngine runs the data preprocessor and the model in an
    autocast region, which would compute convolutions and matrix products
    in float16 / bfloat16. FAME's blurred maps and their top-k ranking, and
    the contrastive logits (similarities of unit vectors divided by a
    temperature of 0.1), lose too much in half precision; the code inside
    this context runs in the precision of its tensors (float32).

    Args:
        device (torch.device): The device whose autocast is turned off.
    """
    with torch.autocast(device_type=device.type, enabled=False):
        yield
