# Copyright (c) OpenMMLab. All rights reserved.
"""Train a FAME model with MMEngine's ``Runner``."""
import argparse
import datetime
import os.path as osp
import sys
from typing import Optional, Sequence

# Put the repository root first on ``sys.path`` so that configs can import
# ``projects.fame`` whatever the working directory is.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[:1] != [REPO_ROOT]:
    sys.path.insert(0, REPO_ROOT)

import torch.distributed as dist  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.device import get_device  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from projects.fame.engine import (  # noqa: E402
    lock_work_dir, register_safe_checkpoint_loaders)
from projects.fame.utils import ConfigError  # noqa: E402
from tools import cli  # noqa: E402

# ``--amp`` swaps each optimizer wrapper for its mixed-precision twin.
AMP_OPTIM_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'AmpOptimWrapper': 'AmpOptimWrapper',
    'SkipNonFiniteOptimWrapper': 'SkipNonFiniteAmpOptimWrapper',
    'SkipNonFiniteAmpOptimWrapper': 'SkipNonFiniteAmpOptimWrapper',
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description='Train a FAME model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir if no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual over the base batch size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='use a different seed on each rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='set deterministic options for the CUDNN backend')
    cli.add_common_args(parser)
    return cli.parse_args(parser, argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the flags of :func:`parse_args` into the config;
    ``--cfg-options`` last."""
    cli.merge_common_args(cfg, args)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in AMP_OPTIM_WRAPPERS:
            raise ConfigError(
                'optim_wrapper.type', f'{optim_wrapper!r} has no '
                f'mixed-precision twin for --amp (one of '
                f'{sorted(AMP_OPTIM_WRAPPERS)})')
        cfg.optim_wrapper.type = AMP_OPTIM_WRAPPERS[optim_wrapper]
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        assert 'auto_scale_lr' in cfg, (
            '`--auto-scale-lr` needs `auto_scale_lr = dict(base_batch_size=N)`'
            ' in the config')
        cfg.auto_scale_lr.enable = True

    # The command line wins over a config's own ``randomness``.
    randomness = cfg.get('randomness', None) or dict(
        seed=None, diff_rank_seed=False, deterministic=False)
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # After the merge, which cannot set keys of a ``None`` value.
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    return cfg


def init_cpu_distributed(cfg: Config) -> None:
    """Start the process group of a CPU-only distributed run with gloo.

    MMEngine's launchers call ``torch.cuda.set_device``, which fails
    without a GPU, and its default DDP wrapper passes ``device_ids``, which
    DDP refuses for CPU modules. Under torchrun (``--launcher pytorch``) on a
    machine without a GPU, the gloo group is started here from torchrun's
    environment (the ``Runner`` then uses it as it is) and the model is
    wrapped without device ids.

    Args:
        cfg (Config): The merged config; updated in place.
    """
    if cfg.launcher == 'none' or get_device() != 'cpu':
        return
    if cfg.launcher != 'pytorch':
        raise SystemExit(
            f'error: --launcher {cfg.launcher} needs GPUs; on the CPU, start '
            'the processes with tools/dist_train.sh (torchrun)')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'  # NCCL needs GPUs
    timeout = dist_cfg.get('timeout')
    if not dist.is_initialized():
        dist.init_process_group(
            'gloo',
            timeout=None if timeout is None else datetime.timedelta(
                seconds=timeout))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def main() -> None:
    args = parse_args()
    # Stop here, naming the file or key to fix, rather than deep inside the
    # Runner.
    cfg = cli.load_config(args.config)
    try:
        cfg = merge_args(cfg, args)
        dataloaders = ['train_dataloader']
        if cfg.get('val_cfg') is not None:
            # KNNValLoop reads a labelled bank besides the validation videos.
            dataloaders += ['val_dataloader', 'val_cfg.bank_dataloader']
        cli.check_config(cfg, dataloaders)
        # A single process claims its work dir before the Runner writes
        # there; a distributed run's main process does it in
        # AtomicCheckpointHook.
        if cfg.launcher == 'none':
            lock_work_dir(cfg.work_dir)
    except (FileNotFoundError, ModuleNotFoundError, RuntimeError,
            ValueError) as err:
        raise SystemExit(f'error: {err}')

    if args.amp and get_device() == 'cpu':
        raise SystemExit('error: --amp needs a GPU (or NPU/MLU): MMEngine\'s '
                         'AmpOptimWrapper refuses to run on the CPU')
    init_cpu_distributed(cfg)

    # Every checkpoint the Runner reads (resume, load_from, a backbone's
    # pretrained=, URLs too) is loaded weights-only, with the allow-list of
    # the types MMEngine checkpoints hold.
    register_safe_checkpoint_loaders()
    with cli.exit_on_user_errors(cfg):
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    main()
