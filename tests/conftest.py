# Copyright (c) OpenMMLab. All rights reserved.
"""Put the repository root on ``sys.path`` so that ``import projects.fame``
works when the tests run from a checkout without installation."""
import os.path as osp
import sys

_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
