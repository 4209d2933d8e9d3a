# Copyright (c) OpenMMLab. All rights reserved.
"""Bias benchmark: does a representation follow motion or background?

Pretrains plain MoCo and MoCo + FAME with identical settings and seeds
(``configs/fame_r3d_tiny_motion_moco.py`` and
``configs/fame_r3d_tiny_motion.py``) on the synthetic motion dataset of
``tools/data/make_motion_dataset.py``, where the class is the motion of a
sprite and the labelled lists carry a scene bias. The frozen backbones are
then read out with a linear probe and a kNN vote on every test list:

- ``test_iid``: the scenes of the probe set (background agrees with class);
- ``test_unseen_bg``: backgrounds never seen (only motion tells the class);
- ``test_static``: one frame repeated (no motion; chance for a motion model);
- ``test_bg_only``: a class's scenes without any sprite (chance for a model
  that ignores the background).

Two references are read out the same way: a randomly initialised backbone
(floor), and the backbone trained with the motion labels of the pretraining
videos (``configs/bias_benchmark/r3d_tiny_motion_supervised.py``: same
clips, optimizer and schedule), the ceiling of what this backbone learns
about motion in this budget. The tool also scores FAME's masks against the
true sprite masks of the pretraining videos, in both hue modes.

Two diagnostics: ``linear_cv``, probes fitted within ``test_unseen_bg`` by
cross-validation (the motion the features hold, with no scene bias for the
probe to lean on), and ``--true-masks``, a third pretraining where FAME
merges with the true sprite masks (how far better masks would go). And a
variant: ``--adaptive-mask`` pretrains MoCo + FAME with ``beta='auto'`` as
well, and reports its margin over MoCo beside the fixed ``beta``'s.

Usage::

    python tools/bias_benchmark.py DIR --work-dir W [--seeds 0 1 2]
        [--epochs 80] [--adaptive-mask] [--true-masks]

``DIR`` is used as it is when it holds the lists; when it is missing or
empty, the dataset is generated there first (``--size``). Writes
``W/results.json``, ``W/results.md`` and ``W/results.png``. Each finished
run keeps its scores in ``W/{method}/seed{seed}/readout.json``; running the
command again after an interruption skips those runs (use a new ``W`` after
changing the code or the configs).
"""
import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tools' / 'data')]

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from make_motion_dataset import (  # noqa: E402
    LISTS, cfg_options, check_dataset, generate)
from mmaction.registry import MODELS  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, set_random_seed  # noqa: E402

from projects.fame.evaluation import (  # noqa: E402
    cross_validate_linear_probe, fit_linear_probe, knn_predict,
    predict_features)
from projects.fame.ops import foreground_mask  # noqa: E402
from tools.mask_quality import parse_beta, score_masks  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

CONFIGS = dict(
    moco=ROOT / 'configs' / 'fame_r3d_tiny_motion_moco.py',
    fame=ROOT / 'configs' / 'fame_r3d_tiny_motion.py',
    # FAME with beta='auto', a foreground fraction per clip
    # (--adaptive-mask).
    fame_auto=ROOT / 'configs' / 'fame_r3d_tiny_motion.py',
    # FAME merging with the generator's sprite masks (--true-masks).
    fame_true_masks=ROOT / 'configs' / 'fame_r3d_tiny_motion.py',
    supervised=ROOT / 'configs' / 'bias_benchmark' /
    'r3d_tiny_motion_supervised.py')
# Pretrained and compared; then the references: an untrained backbone and
# one trained with the labels, read out the same way.
METHODS = ('moco', 'fame', 'random_init', 'supervised')
# Epochs of every training: the configs' 40 stop FAME before it has learned
# its pretext task on this dataset (its control fails in every seed), 80 do
# not (docs/bias_benchmark.md).
EPOCHS = 80
PRETRAINED = ('moco', 'fame', 'fame_auto', 'fame_true_masks')
NAMES = dict(
    moco='MoCo',
    fame='MoCo + FAME',
    fame_auto="MoCo + FAME, beta='auto'",
    fame_true_masks='MoCo + FAME, true masks (reference)',
    random_init='random init (reference)',
    supervised='supervised (reference)')
COLOURS = dict(
    zip(NAMES, ('tab:gray', 'tab:red', 'tab:purple', 'tab:orange', 'tab:blue',
                'tab:green')))
TEST_LISTS = ('test_iid', 'test_unseen_bg', 'test_static', 'test_bg_only')
PROTOCOLS = ('linear', 'knn')
# The list with no scene bias, where a probe fitted within the list itself
# (cross-validated) shows how much motion the features hold.
UNBIASED_LIST = 'test_unseen_bg'
CV_FOLDS = 4
# Instance retrieval on UNBIASED_LIST, two tasks: the query is a plain clip
# (MoCo's pretext task) or a clip merged onto another video's background by
# FAME (FAME's pretext task); the gallery holds plain clips.
QUERIES = dict(retrieval='plain', retrieval_merged='merged')
RETRIEVAL_TASKS = tuple(QUERIES)
# The positive control: a pretraining learned its own pretext task when its
# retrieval in that task beats the untrained backbone's by this many points.
OWN_TASK = dict(
    moco='retrieval',
    fame='retrieval_merged',
    fame_auto='retrieval_merged',
    fame_true_masks='retrieval_merged')
# The FAME variants whose margin over MoCo is reported, and its key.
MARGINS = dict(fame='fame_minus_moco', fame_auto='fame_auto_minus_moco')
CONTROL_MARGIN = 10.0
HUE_MODES = ('turns', 'radians')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pretrain MoCo and MoCo + FAME on the synthetic motion '
        'dataset and measure how much each relies on the background')
    parser.add_argument('root', help='dataset folder; generated if missing')
    parser.add_argument(
        '--work-dir', required=True, help='where runs and results go')
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0], help='training seeds')
    parser.add_argument(
        '--size',
        choices=['tiny', 'default'],
        default='default',
        help='dataset size, if the dataset has to be generated')
    parser.add_argument(
        '--k', type=int, default=20, help='neighbours of the kNN vote')
    parser.add_argument(
        '--beta',
        type=parse_beta,
        help='foreground fraction (or \'auto\') of the masks scored against '
        'the sprites (default: the FAME config\'s)')
    parser.add_argument(
        '--epochs',
        type=int,
        default=EPOCHS,
        help='epochs of the three trainings, the warm-up a tenth of them '
        f'(default {EPOCHS}; the configs train 40, too few for FAME to '
        'learn its task here: docs/bias_benchmark.md)')
    parser.add_argument(
        '--adaptive-mask',
        action='store_true',
        help='also pretrain MoCo + FAME with beta=\'auto\' (foreground seeds '
        'and fraction per clip) beside the fixed beta')
    parser.add_argument(
        '--true-masks',
        action='store_true',
        help='also pretrain MoCo + FAME merging with the true sprite masks '
        'of the dataset instead of its own (a reference: how far better '
        'masks would go)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override keys of the three training configs, e.g. '
        'train_cfg.max_epochs=2')
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f'--epochs must be at least 2, got {args.epochs}')
    return args


def prepare_dataset(root: Path, size: str) -> Dict[str, Path]:
    """Return the list files of ``root``, generating the dataset if needed.

    Args:
        root (Path): Dataset folder.
        size (str): Size to generate when ``root`` is missing or empty.

    Returns:
        dict[str, Path]: Path of each list file by list name.
    """
    if not root.exists() or not any(root.iterdir()):
        print(f'Generating the {size} motion dataset in {root}')
        generate(str(root), size=size, seed=0)
    # Every listed video, before a pretraining that would fail at the end.
    check_dataset(root)
    return {name: root / f'{name}.txt' for name in LISTS}


def set_epochs(cfg: Config, epochs: int) -> None:
    """Train for ``epochs``: a linear warm-up over a tenth of them, then the
    cosine decay, as the configs schedule their 40 epochs."""
    warmup, decay = cfg.param_scheduler
    if (warmup.type, decay.type) != ('LinearLR', 'CosineAnnealingLR'):
        raise ValueError('--epochs expects the configs\' warm-up and cosine '
                         f'schedule, got {warmup.type}, {decay.type}')
    first = max(1, round(epochs / 10))
    cfg.train_cfg.max_epochs = epochs
    warmup.end = first
    decay.update(begin=first, end=epochs, T_max=epochs - first)


def load_config(method: str,
                root: Path,
                work_dir: Path,
                seed: int,
                overrides: Optional[dict],
                epochs: Optional[int] = None) -> Config:
    """The training config of a method, pointed at the dataset, trained for
    ``epochs`` if given (:func:`set_epochs`), then ``overrides`` merged."""
    cfg = Config.fromfile(str(CONFIGS[method]))
    if epochs is not None:
        set_epochs(cfg, epochs)
    # The supervised config has no kNN monitor to point at the probe lists.
    paths = {
        key: value
        for key, value in cfg_options(str(root)).items()
        if cfg.get(key.split('.')[0]) is not None
    }
    cfg.merge_from_dict(dict(paths, **{'randomness.seed': seed}))
    if overrides:
        cfg.merge_from_dict(overrides)
    # No kNN monitor during pretraining: the read-outs after it score every
    # backbone, and each monitor pass reads 1440 videos (40 s on 2 cores).
    cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1
    if method == 'fame_auto':
        cfg.model.data_preprocessor.fame.beta = 'auto'
    if method == 'fame_true_masks':
        use_true_masks(cfg, root)
    cfg.work_dir = str(work_dir / method / f'seed{seed}')
    cfg.experiment_name = f'{method}_seed{seed}_{time.strftime("%H%M%S")}'
    return cfg


def use_true_masks(cfg: Config, root: Path) -> None:
    """Make FAME merge with the dataset's true sprite masks.

    Inserts :class:`LoadForegroundMask` before ``FormatShape`` in the
    training pipeline and passes its masks to the data preprocessor.
    """
    pipeline = cfg.train_dataloader.dataset.pipeline
    index = next(i for i, t in enumerate(pipeline)
                 if t['type'] == 'FormatShape')
    pipeline.insert(
        index,
        dict(
            type='LoadForegroundMask',
            video_prefix=str(root / 'videos'),
            mask_prefix=str(root / 'masks')))
    pack = next(t for t in pipeline if t['type'] == 'PackActionInputs')
    # PackActionInputs' default keys, unless the config sets its own.
    meta_keys = pack.get('meta_keys',
                         ('img_shape', 'img_key', 'video_id', 'timestamp'))
    pack['meta_keys'] = tuple(meta_keys) + ('fame_mask', )


@torch.no_grad()
def extract_features(model: torch.nn.Module, cfg: Config,
                     ann_file: Path) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pooled backbone features of every video of a list, in eval mode.

    Args:
        model (nn.Module): A ``MoCoRecognizer``.
        cfg (Config): Config whose ``val_dataloader`` reads the videos.
        ann_file (Path): The list to read.

    Returns:
        tuple[Tensor, Tensor]: Features (N, D) and labels (N, ).
    """
    loader_cfg = cfg.val_dataloader.copy()
    loader_cfg.dataset = dict(loader_cfg.dataset, ann_file=str(ann_file))
    loader = Runner.build_dataloader(loader_cfg)
    model.eval()
    feats, labels = [], []
    for data in loader:
        _, batch_feats, batch_labels = predict_features(model, data)
        feats.append(batch_feats)
        labels.append(batch_labels)
    return torch.cat(feats).double(), torch.cat(labels)


@torch.no_grad()
def instance_retrieval(model: torch.nn.Module,
                       cfg: Config,
                       ann_file: Path,
                       merged: bool = False,
                       seed: int = 0) -> float:
    """Top-1 instance retrieval (%) of two augmented clips per video.

    Each video of the list gives two clips through the training pipeline
    and colour augmentation, as in pretraining; the first clip of each
    video is the query, the second clips of all videos the gallery,
    compared by cosine similarity of pooled backbone features in eval
    mode. With ``merged``, FAME (the config's, every clip merged) moves
    each query's foreground onto another video's background, whose own
    second clip is in the gallery: FAME's pretext task, which the
    background alone fails. Without it no clip is merged: MoCo's pretext
    task, which the background alone solves. Either way the pretext task
    on videos never seen: a pretraining that learned its own scores well
    above an untrained backbone.

    Args:
        model (nn.Module): A ``MoCoRecognizer``.
        cfg (Config): Config of the pretraining, whose training pipeline
            and data preprocessor make the clips.
        ann_file (Path): The list of videos.
        merged (bool): Merge the queries with FAME. Defaults to False.
        seed (int): Seed of the clips' augmentation. Defaults to 0.

    Returns:
        float: Share of videos whose second clip is the nearest (%).
    """
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(loader_cfg.dataset, ann_file=str(ann_file)))
    loader_cfg.pop('prefetch_factor', None)
    preprocessor_cfg = cfg.model.data_preprocessor.copy()
    preprocessor_cfg.fame = dict(
        preprocessor_cfg.fame, prob=1. if merged else 0.)
    preprocessor = MODELS.build(preprocessor_cfg)
    model.eval()
    set_random_seed(seed)
    queries, gallery = [], []
    for data in Runner.build_dataloader(loader_cfg, seed=seed):
        views = preprocessor(data, training=True)['inputs']
        first, second = (model.extract_feat(v).float() for v in views)
        queries.append(F.normalize(first, dim=1))
        gallery.append(F.normalize(second, dim=1))
    sims = torch.cat(queries) @ torch.cat(gallery).T
    hits = sims.argmax(1) == torch.arange(sims.shape[0])
    return 100 * hits.double().mean().item()


def read_out(model: torch.nn.Module, cfg: Config, lists: Dict[str, Path],
             num_classes: int, k: int) -> Dict[str, Dict[str, float]]:
    """Top-1 accuracy (%) of a linear probe and of kNN on each test list.

    The probe is fitted on ``probe_train`` with its weight decay chosen on
    ``probe_val``; the kNN bank is ``probe_train``. ``linear_cv`` holds
    the accuracy of probes fitted within ``test_unseen_bg`` (cross-validated,
    no scene bias to lean on), or None when its classes have fewer than
    ``CV_FOLDS`` videos each.
    """
    feats = {
        name: extract_features(model, cfg, lists[name])
        for name in ('probe_train', 'probe_val') + TEST_LISTS
    }
    train, val = feats['probe_train'], feats['probe_val']
    probe = fit_linear_probe(*train, *val, num_classes)
    scores = dict(linear={}, knn={})
    with torch.no_grad():
        for name in TEST_LISTS:
            test_feats, test_labels = feats[name]
            predictions = dict(
                linear=probe(test_feats),
                knn=knn_predict(*train, test_feats, num_classes, k=k))
            for protocol, logits in predictions.items():
                correct = logits.argmax(1) == test_labels
                scores[protocol][name] = 100 * correct.double().mean().item()
    unbiased_feats, unbiased_labels = feats[UNBIASED_LIST]
    if unbiased_labels.bincount().min() >= CV_FOLDS:
        scores['linear_cv'] = cross_validate_linear_probe(
            unbiased_feats, unbiased_labels, num_classes, CV_FOLDS)
    else:
        scores['linear_cv'] = None
    for task in RETRIEVAL_TASKS:
        scores[task] = instance_retrieval(
            model,
            cfg,
            lists[UNBIASED_LIST],
            merged=task == 'retrieval_merged')
    return scores


def _pretraining_clips(root: Path, cfg: Config,
                       max_videos: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """First pretraining clips at the pretraining geometry, and true masks.

    Returns:
        tuple[Tensor, Tensor]: RGB clips (N, 3, T, S, S) in [0, 1] and the
        union over the clip's frames of the true sprite masks (N, S, S).
    """
    import decord
    sample = next(t for t in cfg.train_pipeline if t['type'] == 'SampleFrames')
    size = cfg.crop_size
    index = list(
        range(0, sample['clip_len'] * sample['frame_interval'],
              sample['frame_interval']))
    names = [
        line.split()[0]
        for line in (root / 'pretrain.txt').read_text().splitlines()
    ][:max_videos]
    clips, truths = [], []
    for name in names:
        frames = decord.VideoReader(str(root / 'videos' / name))
        frames = torch.from_numpy(frames.get_batch(index).asnumpy())
        frames = frames.permute(3, 0, 1, 2).float() / 255  # C, T, H, W
        clips.append(F.interpolate(frames, size=(size, size), mode='area'))
        masks = np.load(root / 'masks' / name.replace('.mp4', '.npz'))
        truth = torch.from_numpy(masks['masks'][index].any(0)).float()
        truths.append(
            F.interpolate(truth[None,
                                None], size=(size,
                                             size), mode='area')[0, 0] >= 0.5)
    return torch.stack(clips), torch.stack(truths)


def mask_quality(root: Path,
                 cfg: Config,
                 beta: float,
                 max_videos: int = 400) -> Dict[str, Dict[str, float]]:
    """Score FAME's masks against the true sprite masks, per hue mode.

    Returns, per hue mode, the mean ``iou`` and ``recall`` (share of sprite
    pixels inside the mask) in percent, with two references independent of
    the method: ``iou_bound``, the best IoU any mask of FAME's size reaches,
    and ``iou_chance``, the expected IoU of a random mask of that size.
    """
    clips, truths = _pretraining_clips(root, cfg, max_videos)
    quality = {}
    for hue_mode in HUE_MODES:
        masks = foreground_mask(clips, beta=beta, hue_mode=hue_mode)
        scores = score_masks(masks, truths)
        # A random mask of fraction f holds f of the sprite (area a).
        area, fraction = scores['area'], scores['fraction']
        chance = fraction * area / (area + fraction - fraction * area)
        quality[hue_mode] = {
            name: 100 * scores.get(name, chance).mean().item()
            for name in ('iou', 'recall', 'iou_bound', 'iou_chance')
        }
    quality['videos'] = len(clips)
    quality['beta'] = beta
    return quality


def summarise(per_seed: Dict[str, List[dict]]) -> dict:
    """Means over seeds and per-seed lists, as in ``results.json``."""
    results = {}
    for method, runs in per_seed.items():
        results[method] = {}
        for protocol in PROTOCOLS:
            values = {
                name: [run[protocol][name] for run in runs]
                for name in TEST_LISTS
            }
            results[method][protocol] = {
                name: float(np.mean(v))
                for name, v in values.items()
            }
            results[method][protocol]['per_seed'] = values
        # None for runs of an older version, or for too small a list.
        cv = [run.get('linear_cv') for run in runs]
        results[method]['linear_cv'] = {
            UNBIASED_LIST: None if None in cv else float(np.mean(cv)),
            'per_seed': {
                UNBIASED_LIST: cv
            }
        }
        for task in RETRIEVAL_TASKS:
            values = [run.get(task) for run in runs]
            results[method][task] = dict(
                mean=None if None in values else float(np.mean(values)),
                per_seed=values)

    def margin(method: str, protocol: str, name: str) -> dict:
        diff = np.subtract(results[method][protocol]['per_seed'][name],
                           results['moco'][protocol]['per_seed'][name])
        return dict(
            mean=float(diff.mean()),
            std=float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
            per_seed=diff.tolist())

    for method, key in MARGINS.items():
        if method not in results:
            continue
        margins = {
            protocol: {
                name: margin(method, protocol, name)
                for name in TEST_LISTS
            }
            for protocol in PROTOCOLS
        }
        if all(results[m]['linear_cv'][UNBIASED_LIST] is not None
               for m in (method, 'moco')):
            margins['linear_cv'] = {
                UNBIASED_LIST: margin(method, 'linear_cv', UNBIASED_LIST)
            }
        results[key] = margins
    results['control'] = positive_control(results)
    return results


def positive_control(results: dict) -> dict:
    """Whether each pretraining learned its own pretext task, seed by seed.

    A pretraining passes in a seed when its instance retrieval top-1 on
    ``test_unseen_bg`` in its own task (``OWN_TASK``: plain clips for MoCo,
    merged queries for FAME) is at least ``CONTROL_MARGIN`` points above
    that of the untrained backbone of the same seed in the same task. The
    run is ``informative`` only when MoCo and MoCo + FAME pass in every
    seed: a margin between two pretrainings that did not learn says nothing
    about FAME.

    Args:
        results (dict): Per-method results of :func:`summarise`.

    Returns:
        dict: ``margin``, ``informative``, and per pretrained method its
        ``task``, ``per_seed`` pass flags and whether it ``passed`` in all
        seeds.
    """
    control = dict(margin=CONTROL_MARGIN)
    for method in PRETRAINED:
        if method not in results:
            continue
        task = OWN_TASK[method]
        values = results[method][task]['per_seed']
        floor = results.get('random_init', {}).get(task,
                                                   {}).get('per_seed', [])
        passed = [
            value is not None and base is not None
            and value >= base + CONTROL_MARGIN
            for value, base in zip(values, floor)
        ]
        if len(passed) != len(values):  # no untrained reference
            passed = [False] * len(values)
        control[method] = dict(task=task, per_seed=passed, passed=all(passed))
    control['informative'] = all(
        control.get(method, {}).get('passed', False)
        for method in ('moco', 'fame'))
    return control


def _mean_std(values: List[float]) -> str:
    """``mean ± std`` over seeds, or the mean alone for one seed."""
    cell = f'{np.mean(values):.1f}'
    if len(values) > 1:
        cell += f' ± {np.std(values, ddof=1):.1f}'
    return cell


def _methods(results: dict) -> List[str]:
    """The methods of ``results``, in the order of the tables."""
    return [m for m in NAMES if m in results]


def _control_lines(results: dict) -> List[str]:
    """The positive control's verdict and table, for ``results.md``."""
    control = results['control']
    if control['informative']:
        verdict = ('Positive control passed: MoCo and MoCo + FAME learned '
                   'their pretext task in every seed.')
    else:
        seeds = results['settings']['seeds']
        failed = []
        for method in PRETRAINED:
            passed = control.get(method, dict(per_seed=[])).get('per_seed')
            bad = [seed for seed, ok in zip(seeds, passed) if not ok]
            if bad:
                failed.append(f'{NAMES[method]} (seeds {bad})')
        failed = ', '.join(failed)
        verdict = (f'**Uninformative run: the positive control failed for '
                   f'{failed}.** A pretraining that did not learn its '
                   'pretext task says nothing about FAME; no FAME - MoCo '
                   'margin is reported.')
    lines = [
        verdict, '',
        f'Instance retrieval on {UNBIASED_LIST} (top-1, %): the query a plain '
        'clip (MoCo\'s pretext task) or merged onto another video\'s '
        'background by FAME (FAME\'s). A pretraining passes in its own task '
        f'at {control["margin"]:.0f} points above the untrained backbone.', '',
        '| method | plain query | merged query | own task | passed |',
        '|---|---:|---:|---|---|'
    ]
    for method in _methods(results):
        cells = [results[method][task]['per_seed'] for task in RETRIEVAL_TASKS]
        if any(None in values for values in cells):
            continue
        passed = control.get(method, {}).get('per_seed')
        flags = '-' if passed is None else ' '.join('yes' if ok else 'no'
                                                    for ok in passed)
        own = QUERIES[OWN_TASK[method]] if method in OWN_TASK else '-'
        lines.append(f'| {NAMES[method]} | ' +
                     ' | '.join(_mean_std(values)
                                for values in cells) + f' | {own} | {flags} |')
    return lines + ['']


def _margins(results: dict) -> List[Tuple[str, str]]:
    """The FAME variants and keys of the margins to report: none when the
    positive control failed, and none for a pretraining that failed it."""
    control = results['control']
    if not control['informative']:
        return []
    return [(method, key) for method, key in MARGINS.items()
            if key in results and control[method]['passed']]


def _margin_name(method: str) -> str:
    return NAMES[method].replace('MoCo + ', '') + ' - MoCo'


def write_markdown(results: dict, path: Path) -> None:
    """Write the results as markdown tables."""
    lines = [
        '| method | read-out | ' + ' | '.join(TEST_LISTS) + ' |',
        '|---|---|' + '---:|' * len(TEST_LISTS)
    ]
    for method in _methods(results):
        for protocol in PROTOCOLS:
            cells = [
                _mean_std(results[method][protocol]['per_seed'][name])
                for name in TEST_LISTS
            ]
            lines.append(f'| {NAMES[method]} | {protocol} | ' +
                         ' | '.join(cells) + ' |')
    for method, key in _margins(results):
        lines.append(f'| {_margin_name(method)} | linear | ' + ' | '.join(
            f'{m["mean"]:+.1f} ± {m["std"]:.1f}'
            for m in results[key]['linear'].values()) + ' |')
    lines = _control_lines(results) + lines
    settings = results['settings']
    quality = results['mask_quality']
    lines += [
        '',
        f'Top-1 accuracy (%), mean ± std over seeds {settings["seeds"]}; '
        f'chance {results["chance"]:.1f} %. Linear probe and kNN '
        f'(k={settings["k"]}) on frozen, pooled backbone features.',
        '',
        f'FAME masks (beta {quality["beta"]}) against the true sprite masks '
        f'of {quality["videos"]} pretraining clips (%):',
        '',
        '| hue mode | IoU | sprite recall | best IoU at this beta | '
        'random mask IoU |',
        '|---|---:|---:|---:|---:|',
    ]
    for hue_mode in HUE_MODES:
        q = quality[hue_mode]
        lines.append(f'| {hue_mode} | {q["iou"]:.1f} | {q["recall"]:.1f} | '
                     f'{q["iou_bound"]:.1f} | {q["iou_chance"]:.1f} |')
    if 'linear_cv' in results['fame_minus_moco']:
        lines += [
            '',
            'Motion held by the features, with no scene to lean on: '
            f'linear probes fitted and tested within {UNBIASED_LIST} '
            f'({CV_FOLDS}-fold cross-validation), top-1 accuracy (%):',
            '',
            f'| method | linear, fitted within {UNBIASED_LIST} |',
            '|---|---:|',
        ]
        for method in _methods(results):
            seeds = results[method]['linear_cv']['per_seed'][UNBIASED_LIST]
            lines.append(f'| {NAMES[method]} | {_mean_std(seeds)} |')
        for method, key in _margins(results):
            margin = results[key].get('linear_cv', {}).get(UNBIASED_LIST)
            if margin is not None:
                lines.append(f'| {_margin_name(method)} | '
                             f'{margin["mean"]:+.1f} ± {margin["std"]:.1f} |')
    lines += ['', f'Command: `{settings["command"]}`', '']
    path.write_text('\n'.join(lines))


def write_chart(results: dict, path: Path) -> None:
    """Bar chart of both read-outs, with the seeds as dots."""
    methods = _methods(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    x = np.arange(len(TEST_LISTS))
    width = 0.8 / len(methods)
    for ax, protocol in zip(axes, PROTOCOLS):
        for i, method in enumerate(methods):
            seeds = results[method][protocol]['per_seed']
            means = [np.mean(seeds[name]) for name in TEST_LISTS]
            offset = (i - (len(methods) - 1) / 2) * width
            ax.bar(
                x + offset,
                means,
                width,
                color=COLOURS[method],
                label=NAMES[method].replace(' (reference)', ''))
            for j, name in enumerate(TEST_LISTS):
                ax.plot(
                    [x[j] + offset] * len(seeds[name]),
                    seeds[name],
                    'k.',
                    markersize=3)
        ax.axhline(results['chance'], color='k', linestyle='--', linewidth=1)
        ax.set_xticks(x, TEST_LISTS)
        ax.set_title(f'{protocol} read-out')
        ax.set_ylim(0, 100)
    if not results['control']['informative']:
        fig.suptitle('uninformative: the positive control failed')
    axes[0].set_ylabel('top-1 accuracy (%)')
    axes[0].legend(loc='upper right', fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    root = Path(args.root).resolve()
    work_dir = Path(args.work_dir).resolve()
    try:
        lists = prepare_dataset(root, args.size)
    except (FileExistsError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    classes = (root / 'classes.txt').read_text().split()
    work_dir.mkdir(parents=True, exist_ok=True)

    methods = list(METHODS)
    if args.true_masks:
        methods.insert(methods.index('fame') + 1, 'fame_true_masks')
    if args.adaptive_mask:
        methods.insert(methods.index('fame') + 1, 'fame_auto')
    per_seed: Dict[str, List[dict]] = {m: [] for m in methods}
    stages = len(args.seeds) * len(per_seed)
    stage = 0
    for seed in args.seeds:
        for method in per_seed:
            stage += 1
            # The references are read out through the FAME config's
            # model and pipeline.
            cfg = load_config(method if method in PRETRAINED else 'fame', root,
                              work_dir, seed, args.cfg_options, args.epochs)
            # A finished run's scores are kept: a rerun after an
            # interruption skips it.
            done = work_dir / method / f'seed{seed}' / 'readout.json'
            if done.is_file():
                print(f'[{stage}/{stages}] seed {seed}, {method}: done '
                      f'before, read from {done}')
                per_seed[method].append(json.loads(done.read_text()))
                continue
            if method == 'random_init':
                # Built outside a Runner, which would set the scope (this
                # is the first model built when a rerun finds the
                # pretrainings done).
                init_default_scope(cfg.get('default_scope', 'mmaction'))
                torch.manual_seed(seed)
                model = MODELS.build(cfg.model)
            elif method == 'supervised':
                print(
                    f'\n[{stage}/{stages}] seed {seed}, {method}: training '
                    'with the labels',
                    flush=True)
                trained = Runner.from_cfg(
                    load_config(method, root, work_dir, seed, args.cfg_options,
                                args.epochs)).train()
                model = MODELS.build(cfg.model)
                model.backbone.load_state_dict(trained.backbone.state_dict())
            else:
                print(
                    f'\n[{stage}/{stages}] seed {seed}, {method}: '
                    'pretraining',
                    flush=True)
                model = Runner.from_cfg(cfg).train()
            print(
                f'[{stage}/{stages}] seed {seed}, {method}: linear probe '
                'and kNN',
                flush=True)
            scores = read_out(model, cfg, lists, len(classes), args.k)
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps(scores))
            per_seed[method].append(scores)

    print('\nScoring FAME masks against the true sprite masks', flush=True)
    results = summarise(per_seed)
    results['chance'] = 100 / len(classes)
    cfg = load_config('fame', root, work_dir, args.seeds[0], args.cfg_options,
                      args.epochs)
    beta = args.beta or cfg.model.data_preprocessor.fame.get('beta', 0.5)
    results['mask_quality'] = mask_quality(root, cfg, beta)
    results['settings'] = dict(
        command=' '.join(['python tools/bias_benchmark.py'] + [
            shlex.quote(a)
            for a in (argv if argv is not None else sys.argv[1:])
        ]),
        dataset=str(root),
        counts={
            name: len(path.read_text().splitlines())
            for name, path in lists.items()
        },
        configs={
            m: str(p.relative_to(ROOT))
            for m, p in CONFIGS.items()
        },
        cfg_options=args.cfg_options or {},
        epochs=cfg.train_cfg.max_epochs,
        seeds=args.seeds,
        k=args.k,
        machine=f'{platform.machine()}, {torch.get_num_threads()} threads, '
        f'torch {torch.__version__}')
    (work_dir / 'results.json').write_text(json.dumps(results, indent=2))
    write_markdown(results, work_dir / 'results.md')
    write_chart(results, work_dir / 'results.png')
    print((work_dir / 'results.md').read_text())
    print(f'Results in {work_dir}/results.{{json,md,png}}')
    return results


if __name__ == '__main__':
    main()
