# Copyright (c) OpenMMLab. All rights reserved.
"""Test (and evaluate) a FAME model checkpoint with MMEngine's ``Runner``."""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

# Put the repository root first on ``sys.path`` so that configs can import
# ``projects.fame`` whatever the working directory is.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[:1] != [REPO_ROOT]:
    sys.path.insert(0, REPO_ROOT)

import torch.nn as nn  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.runner import CheckpointLoader, Runner  # noqa: E402

from projects.fame.engine import (  # noqa: E402
    register_safe_checkpoint_loaders)
from projects.fame.utils import (  # noqa: E402
    CheckpointMismatchError, check_state_dict)
from tools import cli  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a FAME model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    cli.add_common_args(parser)
    return cli.parse_args(parser, argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the flags of :func:`parse_args` into the config."""
    cli.merge_common_args(cfg, args)
    if args.dump is not None:
        assert args.dump.endswith(('.pkl', '.pickle')), \
            'The dump file must be a pkl file.'
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = [*cfg.test_evaluator, dump_metric]
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump_metric]
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.load_from = args.checkpoint
    # Testing writes no checkpoint: without the checkpoint hook, which
    # claims the work dir, a test may run beside the training run that
    # writes the checkpoints it evaluates.
    cfg.default_hooks = dict(cfg.get('default_hooks') or {}, checkpoint=None)
    return cfg


# What evaluating a checkpoint that misses a part of the model would score.
UNLOADED = dict(
    backbone='a randomly initialised backbone: give the config of the model '
    'the checkpoint was trained with.',
    cls_head='a randomly initialised classifier: a pretraining checkpoint '
    'has none. Fine-tune or linear-probe it first (a config of '
    'configs/transfer/, see docs/transfer.md) and evaluate that checkpoint.')


def check_checkpoint_fills_model(model: nn.Module, checkpoint: str) -> None:
    """Refuse a checkpoint that fills less than half of the backbone or of
    the classifier head.

    The Runner loads checkpoints with ``strict=False``: with the wrong
    config or a pretraining checkpoint, it would only warn and score a
    randomly initialised backbone or head.

    Raises:
        CheckpointMismatchError: Saying how many tensors of the part the
            checkpoint fills, and why the others are not.
    """
    model = model.module if is_model_wrapper(model) else model
    state = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    for part, consequence in UNLOADED.items():
        try:
            check_state_dict(
                state.get('state_dict', state),
                model.state_dict(),
                source=checkpoint,
                prefix=f'{part}.',
                min_fraction=0.5)
        except CheckpointMismatchError as err:
            raise CheckpointMismatchError(
                f'{err} Evaluating it would score {consequence}') from None


def main() -> None:
    args = parse_args()
    cfg = merge_args(cli.load_config(args.config), args)
    if cfg.get('test_dataloader') is None or cfg.get('test_cfg') is None:
        raise SystemExit(
            f'error: {args.config} has no test_dataloader / test_cfg: it is '
            'a pretraining config. Evaluate a pretrained backbone with a '
            'config of configs/transfer/ (fine-tune, linear probe or '
            'retrieval; docs/transfer.md)')
    # Stop here, naming the file or key to fix, rather than deep inside the
    # Runner.
    try:
        if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
            raise FileNotFoundError(
                f'Checkpoint file not found: {args.checkpoint}')
        cli.check_config(cfg, ['test_dataloader'])
    except (FileNotFoundError, ModuleNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')

    # Every checkpoint the Runner reads (resume, load_from, a backbone's
    # pretrained=, URLs too) is loaded weights-only, with the allow-list of
    # the types MMEngine checkpoints hold.
    register_safe_checkpoint_loaders()
    with cli.exit_on_user_errors(cfg):
        runner = Runner.from_cfg(cfg)
        try:
            check_checkpoint_fills_model(runner.model, args.checkpoint)
        except ValueError as err:
            raise SystemExit(f'error: {err}')
        runner.test()


if __name__ == '__main__':
    main()
