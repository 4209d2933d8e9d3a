# Copyright (c) OpenMMLab. All rights reserved.
"""What ``tools/train.py`` and ``tools/test.py`` share: their common flags,
the checks of a config before the ``Runner`` is built, and user errors
turned into one ``error:`` line."""
import argparse
import difflib
import errno
import glob
import importlib.util
import os
import os.path as osp
import re
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

from projects.fame.utils import (BadVideoError, CheckpointMismatchError,
                                 ConfigError, UnreadableCheckpointError,
                                 UnsafeCheckpointError)

CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                       'configs')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the flags both tools take: ``--work-dir``, ``--cfg-options``,
    ``--launcher`` and ``--local-rank``."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings with key=value pairs, e.g. '
        'train_cfg.max_epochs=10 or key="[a,b]"; no spaces are allowed')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line, and set ``LOCAL_RANK`` as launchers do."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str) -> Config:
    """Load a config file, or exit naming close matches of a missing one."""
    try:
        return Config.fromfile(find_config(path))
    except FileNotFoundError as err:
        raise SystemExit(f'error: {err}')


def merge_common_args(cfg: Config, args: argparse.Namespace) -> None:
    """Set the launcher and the work dir: ``--work-dir``, else the
    config's, else ``./work_dirs/<config name>``."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])


def check_config(cfg: Config, dataloaders: Sequence[str]) -> None:
    """Check what a config reads before the ``Runner`` is built:
    ``load_from``, the packages its modules import, and the data of
    ``dataloaders`` (see :func:`check_data_paths`).

    Raises:
        FileNotFoundError, ModuleNotFoundError, ValueError: Naming the file
            or config key to fix.
    """
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not osp.isfile(load_from):
        raise FileNotFoundError(
            f'load_from: no such file: {load_from}; set it with '
            '--cfg-options load_from=PATH')
    check_optional_dependencies(cfg)
    check_data_paths(cfg, dataloaders)


def find_config(path: str, config_root: str = CONFIG_ROOT) -> str:
    """Check that a config file exists, suggesting close names if not.

    Args:
        path (str): The config path given on the command line.
        config_root (str): Where to look for similarly named configs.
            Defaults to the repository's ``configs`` folder.

    Returns:
        str: ``path`` itself when it is a file.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
    """
    if osp.isfile(path):
        return path
    pattern = osp.join(config_root, '**', '*.py')
    # Suggest runnable configs only, not the ``_base_`` fragments.
    candidates = [
        c for c in glob.glob(pattern, recursive=True)
        if '_base_' not in c.split(os.sep)
    ]
    by_name = {osp.basename(c): c for c in sorted(candidates, reverse=True)}
    close = difflib.get_close_matches(
        osp.basename(path), list(by_name), n=5, cutoff=0.6)
    message = f'Config file not found: {path}'
    if close:
        message += '. Did you mean: ' + ', '.join(
            osp.relpath(by_name[name], osp.dirname(config_root))
            for name in close) + '?'
    raise FileNotFoundError(message)


# Config types that import a package the project does not install:
# type -> (module imported, pip package).
OPTIONAL_PACKAGES = {
    'TensorboardVisBackend': ('tensorboard', 'tensorboard'),
    'WandbVisBackend': ('wandb', 'wandb'),
    'MLflowVisBackend': ('mlflow', 'mlflow'),
    'ClearMLVisBackend': ('clearml', 'clearml'),
    'NeptuneVisBackend': ('neptune', 'neptune'),
    'DVCLiveVisBackend': ('dvclive', 'dvclive'),
    'AimVisBackend': ('aim', 'aim'),
    'PyAVInit': ('av', 'av'),
    'PyAVDecode': ('av', 'av'),
    'PyAVDecodeMotionVector': ('av', 'av'),
    'PIMSInit': ('pims', 'pims'),
}


def _is_installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _typed_nodes(node: Any, key: str) -> Iterator[Tuple[str, str, dict]]:
    """Yield (config key, type name, dict) of every dict with a string
    ``type``."""
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield key, node['type'].rsplit('.', 1)[-1], node
        for name, value in node.items():
            yield from _typed_nodes(value, f'{key}.{name}' if key else name)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _typed_nodes(value, f'{key}.{index}')


def check_optional_dependencies(cfg: dict) -> None:
    """Check that the packages the config's modules import are installed.

    Args:
        cfg (dict): The config (an MMEngine ``Config`` or a dict).

    Raises:
        ModuleNotFoundError: Naming each config key whose type needs a
            missing package, the package and the command that installs it.
    """
    users: Dict[str, List[str]] = {}  # missing package -> config keys
    for key, type_name, _ in _typed_nodes(dict(cfg), ''):
        if type_name in OPTIONAL_PACKAGES:
            module, package = OPTIONAL_PACKAGES[type_name]
            if not _is_installed(module):
                users.setdefault(package, []).append(f'{key} ({type_name})')
    if users:
        raise ModuleNotFoundError('Missing package(s):\n' + '\n'.join(
            f'  {package}, for {", ".join(keys)}: pip install {package}'
            for package, keys in users.items()))


@contextmanager
def exit_on_user_errors(cfg: dict) -> Iterator[None]:
    """Turn the errors of a bad config, checkpoint or video into one message.

    For the tools' ``Runner`` calls: a misspelt argument (named by its
    config key, :func:`name_unexpected_argument`), a bad config value
    (:class:`ConfigError`), an unreadable or unsafe checkpoint, resuming
    from a checkpoint of another model (its weights or its optimizer state
    do not fit), a video that cannot be read (:class:`BadVideoError`) and a
    full disk end the program with ``error: ...`` instead of a
    traceback. Any other error is raised as it is.

    Args:
        cfg (dict): The config the Runner is built from.
    """
    try:
        yield
    except TypeError as err:
        message = name_unexpected_argument(cfg, err)
        if message is None:
            raise
        raise SystemExit(f'error: {message}')
    except (UnreadableCheckpointError, UnsafeCheckpointError) as err:
        raise SystemExit(f'error: {err}')
    except BadVideoError as err:
        # PyTorch re-raises a dataloader worker's error with the worker's
        # traceback in its text: the message is the end of it.
        message = str(err).rpartition(f'{BadVideoError.__name__}: ')[2]
        raise SystemExit(f'error: {message}')
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        # MMEngine's own writes (logs, the config dump) name no file.
        what = err.filename or f'into {cfg.get("work_dir")}'
        # write_atomic removed its temporary: the last complete checkpoint
        # is still there for --resume.
        raise SystemExit(
            f'error: no space left on the device to write {what}. '
            'Free some space (or choose another --work-dir) and continue '
            'with --resume: the last complete checkpoint is kept.')
    except ValueError as err:
        if isinstance(err, ConfigError):  # a value of the config, by key
            raise SystemExit(f'error: {err}')
        if isinstance(err, CheckpointMismatchError):
            reason = str(err)
        # torch.optim.Optimizer.load_state_dict on another model's state.
        elif cfg.get('resume') and 'parameter group' in str(err):
            reason = f'its optimizer state does not fit ({err})'
        else:
            raise
        source = cfg.get('load_from') or (
            f'the latest checkpoint in {cfg.get("work_dir")}')
        raise SystemExit(
            f'error: cannot resume from {source}: {reason}. Is it a '
            'checkpoint of another config? To start from its weights only, '
            'pass --cfg-options load_from=PATH without --resume.')


def name_unexpected_argument(cfg: dict, err: TypeError) -> Optional[str]:
    """Name the config key of the argument that ``err`` says is unexpected.

    Args:
        cfg (dict): The config the failing module was built from.
        err (TypeError): E.g. ``MoCoHead.__init__() got an unexpected
            keyword argument 'temprature'``.

    Returns:
        str, optional: A message starting with the key, e.g.
        ``model.head.temprature``; None if ``err`` is another error or no
        config key matches.
    """
    match = re.search(
        r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'",
        str(err))
    if match is None:
        return None
    type_name, arg = match.groups()
    nodes = [(key, node_type)
             for key, node_type, node in _typed_nodes(dict(cfg), '')
             if arg in node]
    # A subclass that passes its ``**kwargs`` on names its parent.
    keys = [key for key, node_type in nodes if node_type == type_name
            ] or [key for key, _ in nodes]
    if not keys:
        return None
    return (f'{" or ".join(f"{key}.{arg}" for key in keys)}: {type_name} '
            f'takes no argument {arg!r}; is it misspelt?')


def _dataset_paths(dataset: Any,
                   key: str) -> Iterator[Tuple[str, str, dict]]:
    """Yield (config key, path, dataset config) of the files and folders a
    dataset reads.

    Relative paths are joined with ``data_root`` as MMEngine's
    ``BaseDataset`` does. Wrapped datasets are followed: any dict-valued
    argument (``dataset`` of ``RepeatDataset``, ``gallery`` and ``query`` of
    ``VideoRetrievalDataset``) and each entry of a ``datasets`` list.
    """
    if not isinstance(dataset, dict):
        return
    data_root = dataset.get('data_root') or ''
    ann_file = dataset.get('ann_file')
    if isinstance(ann_file, str) and ann_file:
        yield f'{key}.ann_file', osp.join(data_root, ann_file), dataset
    data_prefix = dataset.get('data_prefix')
    if isinstance(data_prefix, dict):
        for name, prefix in data_prefix.items():
            if isinstance(prefix, str) and prefix:
                yield (f'{key}.data_prefix.{name}',
                       osp.join(data_root, prefix), dataset)
    for name, child in dataset.items():
        if name == 'datasets' and isinstance(child, (list, tuple)):
            for index, item in enumerate(child):
                yield from _dataset_paths(item, f'{key}.datasets.{index}')
        elif name != 'data_prefix':
            yield from _dataset_paths(child, f'{key}.{name}')


# Datasets that read ``path label`` lines as MMAction2's VideoDataset does;
# pretraining (RobustRepeatAugDataset) ignores the labels.
VIDEO_LIST_DATASETS = ('VideoDataset', 'StrictVideoDataset',
                       'RepeatAugDataset', 'RobustRepeatAugDataset')


def _video_list_problem(path: str, labelled: bool,
                        num_classes: Optional[int]) -> Optional[str]:
    """What is wrong with a ``path label`` video list, naming the line."""
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as err:
        return f'{path} is not UTF-8 text: {err}'
    if not lines:
        return f'{path} lists no videos'
    for line_no, line in enumerate(lines, 1):
        fields = line.strip().split(' ')
        if not line.strip():
            return f'{path}:{line_no}: blank line'
        if len(fields) > 2 or (labelled and len(fields) != 2):
            return (f'{path}:{line_no}: expected "video label", separated by '
                    f'one space (none in the path), got "{line}"')
        if not labelled:
            continue
        if not fields[1].isdigit():
            return f'{path}:{line_no}: label {fields[1]!r} is no integer >= 0'
        if num_classes is not None and int(fields[1]) >= num_classes:
            return (f'{path}:{line_no}: label {fields[1]} is out of range '
                    f'for model.cls_head.num_classes={num_classes}')
    return None


def check_data_paths(cfg: dict, dataloaders: Sequence[str]) -> None:
    """Check that the annotation files and video folders of datasets exist,
    and that video lists are well-formed.

    Args:
        cfg (dict): The config (an MMEngine ``Config`` or a dict).
        dataloaders (Sequence[str]): The dataloader keys to check, dotted
            for nested ones, e.g. ``['train_dataloader',
            'val_cfg.bank_dataloader']``; absent or ``None`` ones are
            skipped.

    Raises:
        FileNotFoundError: Naming each missing path and the config key that
            points to it (``ann_file`` must be a file, ``data_prefix``
            entries folders). Remote paths (``s3://`` ...) are not checked.
        ValueError: Naming the file and line of a bad video list: empty, a
            blank line, a path with a space, a label that is no integer or
            is out of ``model.cls_head.num_classes``.
    """
    problems: List[str] = []
    bad_lists: List[str] = []
    num_classes = (cfg.get('model') or {}).get('cls_head', {}).get(
        'num_classes')
    for loader in dataloaders:
        first, *rest = loader.split('.')
        loader_cfg = cfg.get(first)
        for name in rest:
            loader_cfg = loader_cfg.get(name) \
                if isinstance(loader_cfg, dict) else None
        if not isinstance(loader_cfg, dict):
            continue
        for key, path, dataset in _dataset_paths(
                loader_cfg.get('dataset'), f'{loader}.dataset'):
            if '://' in path:
                continue
            is_file = key.endswith('.ann_file')
            if not (osp.isfile(path) if is_file else osp.isdir(path)):
                what = 'file' if is_file else 'folder'
                problems.append(f'{key}: no such {what}: {path}')
                continue
            data_type = str(dataset.get('type', '')).rsplit('.', 1)[-1]
            if (is_file and data_type in VIDEO_LIST_DATASETS
                    and not dataset.get('multi_class')
                    and dataset.get('delimiter', ' ') == ' '):
                # The kNN bank's labels need not be classifier classes.
                problem = _video_list_problem(
                    path, data_type != 'RobustRepeatAugDataset',
                    None if '.' in loader else num_classes)
                if problem:
                    bad_lists.append(f'{key}: {problem}')
    if problems:
        raise FileNotFoundError(
            'Missing data:\n  ' + '\n  '.join(problems) +
            f'\nRelative paths start at {os.getcwd()}. Prepare the data '
            '(README.md, docs/transfer.md) or point the key elsewhere with '
            '--cfg-options KEY=PATH.')
    if bad_lists:
        raise ValueError('Bad video list:\n  ' + '\n  '.join(bad_lists))
