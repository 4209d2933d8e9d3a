# Copyright (c) OpenMMLab. All rights reserved.
"""Export the backbone of a FAME pretraining checkpoint for transfer.

``recognizer`` format: ``backbone.*`` keys, for ``load_from`` in a stock
MMAction2 recognizer config with the same backbone. ``backbone`` format: the
keys without the prefix, for the backbone's ``pretrained=`` argument.
"""
import argparse
import errno
import io
import os.path as osp
import sys
from collections import Counter
from typing import Dict, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[:1] != [REPO_ROOT]:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from projects.fame.engine import write_atomic  # noqa: E402
from projects.fame.utils import (  # noqa: E402
    UnsafeCheckpointError, check_state_dict, load_checkpoint_safely)

PREFIX = 'backbone.'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='FAME pretraining checkpoint')
    parser.add_argument('out', help='output file')
    parser.add_argument(
        '--config',
        help='a stock MMAction2 config (by path) whose backbone must match '
        'every exported key in name and shape')
    parser.add_argument(
        '--format',
        choices=['recognizer', 'backbone'],
        default='recognizer',
        help='keep the "backbone." prefix (recognizer) or strip it')
    return parser.parse_args(argv)


def check_against_config(backbone: Dict[str, torch.Tensor],
                         config: str) -> None:
    """Refuse unless ``backbone`` (exported weights, without prefix) matches
    ``model.backbone`` of the MMAction2 config ``config`` exactly.

    Raises:
        CheckpointMismatchError: Naming the missing, unexpected and
            mis-shaped keys.
    """
    from mmaction.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    check_state_dict(
        backbone,
        MODELS.build(cfg.model.backbone).state_dict(),
        source=f'The backbone of the checkpoint (for model.backbone of '
        f'{config})',
        strict=True)


def export(checkpoint: str,
           out: str,
           fmt: str = 'recognizer',
           config: Optional[str] = None) -> Dict[str, int]:
    """Write the backbone of ``checkpoint`` to ``out``.

    Args:
        checkpoint (str): FAME pretraining checkpoint.
        out (str): Output path.
        fmt (str): ``'recognizer'`` or ``'backbone'``.
        config (str, optional): Stock config to check the keys against.

    Returns:
        dict[str, int]: Number of tensors per top-level module, kept
        (``backbone``) or dropped (the rest).
    """
    if config is not None and not osp.isfile(config):
        raise FileNotFoundError(f'--config: no such file: {config}')
    if osp.exists(out) and osp.samefile(checkpoint, out):
        raise ValueError(f'The output {out} is the input checkpoint '
                         f'{checkpoint}: writing it would lose the '
                         'checkpoint. Choose another output file.')
    state = load_checkpoint_safely(checkpoint)
    state_dict = state.get('state_dict', state)
    backbone = {
        k[len(PREFIX):]: v
        for k, v in state_dict.items() if k.startswith(PREFIX)
    }
    if not backbone:
        raise ValueError(f'{checkpoint} holds no "{PREFIX}*" weights')
    if config is not None:
        check_against_config(backbone, config)
    if fmt == 'recognizer':
        backbone = {PREFIX + k: v for k, v in backbone.items()}
    buffer = io.BytesIO()
    torch.save(dict(state_dict=backbone, meta=state.get('meta', {})), buffer)
    write_atomic(buffer.getvalue(), out)  # a failed write keeps the old file
    return dict(Counter(k.split('.')[0] for k in state_dict))


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        counts = export(args.checkpoint, args.out, args.format, args.config)
    except (FileNotFoundError, UnsafeCheckpointError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise SystemExit(f'error: no space left on the device to write '
                         f'{args.out}; an earlier file there is kept whole')
    for module, count in counts.items():
        action = 'kept' if module + '.' == PREFIX else 'dropped'
        print(f'{action:>7} {count:5d} tensors of {module}')
    print(f'wrote {args.format} weights to {args.out}')


if __name__ == '__main__':
    main()
