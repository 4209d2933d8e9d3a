# Copyright (c) OpenMMLab. All rights reserved.
"""Bias benchmark: does a representation follow motion or background?

Pretrains MoCo and MoCo + FAME with the same settings and seeds on the
synthetic motion dataset (``tools/data/motion_dataset.py``), whose class is
a sprite's motion and whose labelled lists carry a scene bias, and reads the
frozen backbones out (linear probe, kNN) on ``test_iid`` (the probe set's
scenes), ``test_unseen_bg`` (only motion tells the class), ``test_static``
(no motion) and ``test_bg_only`` (no sprite), beside an untrained backbone
and one trained with the labels. Also: FAME's masks against the true ones,
probes cross-validated within ``test_unseen_bg`` (``linear_cv``), and the
positive control (instance retrieval in each pretraining's own task);
``--true-masks`` and ``--adaptive-mask`` add FAME variants.

Usage::

    python tools/bias_benchmark.py DIR --work-dir W [--seeds 0 1 2]
        [--epochs 80] [--actors default|small] [--adaptive-mask]
        [--true-masks]

``DIR`` is generated first (``--size``, ``--actors``) when it holds no
dataset. Writes
``W/results.{json,md,png}``; each finished run's scores stay in
``W/{method}/seed{seed}/readout.json``, which a rerun skips.
"""
import argparse
import json
import platform
import sys
import time
from itertools import product
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import decord  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mmaction.registry import MODELS  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, set_random_seed  # noqa: E402
from scipy.stats import fisher_exact  # noqa: E402

from projects.fame import evaluation, ops  # noqa: E402
from tools import common  # noqa: E402
from tools.data import motion_dataset  # noqa: E402
from tools.data.motion_dataset import SIZES  # noqa: E402

CONFIGS = dict(
    moco=ROOT / 'configs' / 'fame_r3d_tiny_motion_moco.py',
    fame=ROOT / 'configs' / 'fame_r3d_tiny_motion.py',
    fame_auto=ROOT / 'configs' / 'fame_r3d_tiny_motion.py',  # beta='auto'
    fame_true_masks=ROOT / 'configs' / 'fame_r3d_tiny_motion.py',
    supervised=ROOT / 'configs' / 'bias_benchmark' /
    'r3d_tiny_motion_supervised.py')
# The configs' 40 epochs stop FAME before it has learned its pretext task
# here (its control fails in every seed), 80 do not.
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
UNBIASED_LIST = 'test_unseen_bg'  # no scene bias: probes cross-validated
CV_FOLDS = 4
# Instance retrieval on UNBIASED_LIST: the query a plain clip (MoCo's
# pretext task) or merged onto another video's background by FAME (FAME's);
# the gallery plain clips.
QUERIES = dict(retrieval='plain', retrieval_merged='merged')
RETRIEVAL_TASKS = tuple(QUERIES)
# The positive control: a pretraining learned its own pretext task when its
# hits in that task beat the untrained backbone's on the same queries, by a
# one-sided Fisher exact test at p < CONTROL_P.
OWN_TASK = dict.fromkeys(PRETRAINED,
                         'retrieval_merged') | dict(moco='retrieval')
CONTROL_P = 0.01
# The FAME variants whose margin over MoCo is reported, and its key.
MARGINS = dict(fame='fame_minus_moco', fame_auto='fame_auto_minus_moco')
HUE_MODES = ('turns', 'radians')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pretrain MoCo and MoCo + FAME on the synthetic motion '
        'dataset and measure how much each relies on the background')
    add = parser.add_argument
    add('root', help='dataset folder; generated if missing')
    add('--work-dir', required=True, help='where runs and results go')
    add('--seeds', type=int, nargs='+', default=[0], help='training seeds')
    add('--size', choices=SIZES, default='default', help='if generated')
    add('--actors',
        choices=motion_dataset.ACTORS,
        default='default',
        help='the sprites\' size, if generated: ' +
        ', '.join(f'{name}, diameter {low}-{high} of the frame'
                  for name, (low, high) in motion_dataset.ACTORS.items()))
    add('--k',
        type=common.at_least(1),
        default=20,
        help='neighbours of the kNN vote')
    add('--beta',
        type=common.parse_beta,
        help='of the masks scored against the sprites (default: FAME\'s)')
    add('--epochs',
        type=common.at_least(2),
        default=EPOCHS,
        help='of the trainings, a tenth of them warm-up (the configs\' 40 '
        'are too few for FAME here: docs/bias_benchmark.md)')
    add('--adaptive-mask',
        action='store_true',
        help='also pretrain MoCo + FAME with beta=\'auto\'')
    add('--true-masks',
        action='store_true',
        help='also pretrain MoCo + FAME merging with the true sprite masks '
        '(a reference: how far better masks would go)')
    add('--cfg-options',
        nargs='+',
        action=DictAction,
        help='override keys of the training configs, e.g. '
        'train_cfg.max_epochs=2')
    return parser.parse_args(argv)


def load_config(method: str,
                root: Path,
                work_dir: Path,
                seed: int,
                overrides: Optional[dict],
                epochs: Optional[int] = None) -> Config:
    """The training config of a method, pointed at the dataset, trained for
    ``epochs`` if given (a tenth of them warm-up, then the cosine decay, as
    the configs schedule their 40), then ``overrides`` merged."""
    cfg = Config.fromfile(str(CONFIGS[method]))
    # The supervised config has no kNN monitor to point at the probe lists.
    options = {
        key: value
        for key, value in motion_dataset.cfg_options(str(root)).items()
        if cfg.get(key.split('.')[0]) is not None
    }
    options['randomness.seed'] = seed
    if epochs is not None:
        warmup = max(1, round(epochs / 10))
        options.update({
            'train_cfg.max_epochs': epochs,
            'param_scheduler.0.end': warmup,
            'param_scheduler.1.begin': warmup,
            'param_scheduler.1.end': epochs,
            'param_scheduler.1.T_max': epochs - warmup
        })
    cfg.merge_from_dict(dict(options, **(overrides or {})))
    # No kNN monitor during pretraining: the read-outs after it score every
    # backbone, and each monitor pass reads 1440 videos (40 s on 2 cores).
    cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1
    if method == 'fame_auto':
        cfg.model.data_preprocessor.fame.beta = 'auto'
    if method == 'fame_true_masks':  # before FormatShape, to the batches
        pipeline = cfg.train_dataloader.dataset.pipeline
        pipeline.insert(
            -2,
            dict(
                type='LoadForegroundMask',
                video_prefix=str(root / 'videos'),
                mask_prefix=str(root / 'masks')))
        pipeline[-1]['meta_keys'] = ('img_shape', 'img_key', 'video_id',
                                     'timestamp', 'fame_mask')
    cfg.work_dir = str(work_dir / method / f'seed{seed}')
    cfg.experiment_name = f'{method}_seed{seed}_{time.strftime("%H%M%S")}'
    return cfg


@torch.no_grad()
def extract_features(model: torch.nn.Module, cfg: Config,
                     ann_file: Path) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pooled backbone features (N, D) of a list's videos, in eval mode,
    read by the config's ``val_dataloader``, and their labels (N, )."""
    loader_cfg = cfg.val_dataloader.copy()
    loader_cfg.dataset = dict(loader_cfg.dataset, ann_file=str(ann_file))
    model.eval()
    feats, labels = [], []
    for data in Runner.build_dataloader(loader_cfg):
        _, batch_feats, batch_labels = evaluation.predict_features(model, data)
        feats.append(batch_feats)
        labels.append(batch_labels)
    return torch.cat(feats).double(), torch.cat(labels)


@torch.no_grad()
def instance_retrieval(model: torch.nn.Module,
                       cfg: Config,
                       ann_file: Path,
                       merged: bool = False,
                       seed: int = 0) -> float:
    """Top-1 retrieval (%) of each video's second clip by its first, made as
    in pretraining; with ``merged`` FAME merges the queries onto other videos'
    backgrounds (FAME's pretext task, MoCo's without)."""
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
    """Top-1 accuracy (%) on each test list of a linear probe (fitted on
    ``probe_train``, its weight decay chosen on ``probe_val``) and of kNN;
    ``linear_cv``, probes cross-validated within ``UNBIASED_LIST`` (None for
    fewer than ``CV_FOLDS`` videos a class); and the retrieval tasks."""
    feats = {
        name: extract_features(model, cfg, lists[name])
        for name in ('probe_train', 'probe_val') + TEST_LISTS
    }
    train, val = feats['probe_train'], feats['probe_val']
    probe = evaluation.fit_linear_probe(*train, *val, num_classes)
    scores = dict(linear={}, knn={})
    with torch.no_grad():
        for name in TEST_LISTS:
            test_feats, test_labels = feats[name]
            predictions = dict(
                linear=probe(test_feats),
                knn=evaluation.knn_predict(
                    *train, test_feats, num_classes, k=k))
            for protocol, logits in predictions.items():
                correct = logits.argmax(1) == test_labels
                scores[protocol][name] = 100 * correct.double().mean().item()
    unbiased_feats, unbiased_labels = feats[UNBIASED_LIST]
    scores['linear_cv'] = None
    if unbiased_labels.bincount().min() >= CV_FOLDS:
        scores['linear_cv'] = evaluation.cross_validate_linear_probe(
            unbiased_feats, unbiased_labels, num_classes, CV_FOLDS)
    for task in RETRIEVAL_TASKS:
        scores[task] = instance_retrieval(
            model,
            cfg,
            lists[UNBIASED_LIST],
            merged=task == 'retrieval_merged')
    return scores


def mask_quality(root: Path,
                 cfg: Config,
                 beta: float,
                 max_videos: int = 400) -> Dict[str, Dict[str, float]]:
    """FAME's masks against the true sprite masks of the first pretraining
    clips, at the pretraining geometry, per hue mode: mean ``iou`` and
    ``recall`` (%) with two references, ``iou_bound`` (the best IoU of a
    mask of FAME's size) and ``iou_chance`` (a random mask's)."""
    sample = next(t for t in cfg.train_pipeline if t['type'] == 'SampleFrames')
    step = sample['frame_interval']
    index = list(range(0, sample['clip_len'] * step, step))
    names = (root / 'pretrain.txt').read_text().split()[::2][:max_videos]
    clips, truths = [], []
    for name in names:
        frames = decord.VideoReader(str(root / 'videos' / name))
        masks = np.load(root / 'masks' / name.replace('.mp4', '.npz'))
        clip, truth = common.resize_clip(
            frames.get_batch(index).asnumpy(), masks['masks'][index],
            cfg.crop_size)
        clips.append(clip)
        truths.append(truth)
    clips, truths = torch.stack(clips), torch.stack(truths)
    quality = {}
    for hue_mode in HUE_MODES:
        scores = common.score_masks(
            ops.fame_mask(clips, beta, hue_mode), truths)
        # A random mask of fraction f holds f of the sprite (area a).
        area, fraction = scores['area'], scores['fraction']
        scores['iou_chance'] = fraction * area / (
            area + fraction - fraction * area)
        quality[hue_mode] = {
            name: 100 * scores[name].mean().item()
            for name in ('iou', 'recall', 'iou_bound', 'iou_chance')
        }
    return dict(quality, videos=len(clips), beta=beta)


def _mean(values: list) -> Optional[float]:
    """The mean, None if a value is (an older version's run, too small a
    list)."""
    return None if None in values else float(np.mean(values))


def summarise(per_seed: Dict[str, List[dict]], num_queries: int) -> dict:
    """Means over seeds and per-seed lists, as in ``results.json``;
    ``num_queries``: the retrieval queries (videos of ``UNBIASED_LIST``)."""
    results = {}
    for method, runs in per_seed.items():
        results[method] = {}
        for protocol in PROTOCOLS:
            values = {
                name: [run[protocol][name] for run in runs]
                for name in TEST_LISTS
            }
            means = {name: _mean(v) for name, v in values.items()}
            results[method][protocol] = dict(means, per_seed=values)
        cv = [run.get('linear_cv') for run in runs]
        results[method]['linear_cv'] = dict({UNBIASED_LIST: _mean(cv)},
                                            per_seed={UNBIASED_LIST: cv})
        for task in RETRIEVAL_TASKS:
            values = [run.get(task) for run in runs]
            results[method][task] = dict(mean=_mean(values), per_seed=values)

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
        lists = dict.fromkeys(PROTOCOLS, TEST_LISTS)
        if all(results[m]['linear_cv'][UNBIASED_LIST] is not None
               for m in (method, 'moco')):
            lists['linear_cv'] = (UNBIASED_LIST, )
        results[key] = {
            protocol: {
                name: margin(method, protocol, name)
                for name in names
            }
            for protocol, names in lists.items()
        }
    results['control'] = positive_control(results, num_queries)
    return results


def positive_control(results: dict, num_queries: int) -> dict:
    """Whether each pretraining learned its own pretext task, seed by seed:
    its hits among ``num_queries`` retrieval queries in ``OWN_TASK`` against
    the untrained backbone's on the same queries, one-sided Fisher exact
    test, passed at p < ``CONTROL_P``. ``informative`` only if MoCo and
    MoCo + FAME pass in every seed."""
    control = dict(test='one-sided Fisher exact', p=CONTROL_P)
    for method in PRETRAINED:
        if method not in results:
            continue
        task = OWN_TASK[method]
        values = results[method][task]['per_seed']
        floor = results.get('random_init', {}).get(task,
                                                   {}).get('per_seed', [])
        if len(floor) != len(values) or None in values + floor:
            floor = [None] * len(values)  # no untrained reference
        seeds = []
        for value, base in zip(values, floor):
            if base is None:
                seeds.append(dict(passed=False))
                continue
            hits, base_hits = (round(v * num_queries / 100)
                               for v in (value, base))
            p = fisher_exact([[hits, num_queries - hits],
                              [base_hits, num_queries - base_hits]],
                             alternative='greater').pvalue
            seeds.append(
                dict(
                    hits=hits,
                    untrained_hits=base_hits,
                    queries=num_queries,
                    p=float(p),
                    passed=bool(p < CONTROL_P)))
        passed = [seed['passed'] for seed in seeds]
        control[method] = dict(
            task=task, per_seed=passed, seeds=seeds, passed=all(passed))
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


def _control_counts(seeds: List[dict]) -> str:
    """``hits / untrained hits, p`` of each seed of the positive control."""
    return '; '.join(f'{s["hits"]} / {s["untrained_hits"]}, p {s["p"]:.2g}'
                     for s in seeds if 'p' in s) or '-'


def _margin(margin: dict) -> str:
    return f'{margin["mean"]:+.1f} ± {margin["std"]:.1f}'


def write_markdown(results: dict, path: Path) -> None:
    """Write the results as markdown: the positive control's verdict and
    table, the read-outs (and the margins over MoCo, once the control
    passed for both), the mask quality and the cross-validated probes."""
    control, settings = results['control'], results['settings']
    methods = [m for m in NAMES if m in results]
    margins = [
        (NAMES[m].replace('MoCo + ', '') + ' - MoCo', key)
        for m, key in MARGINS.items()
        if control['informative'] and key in results and control[m]['passed']
    ]
    if control['informative']:
        verdict = ('Positive control passed: MoCo and MoCo + FAME learned '
                   'their pretext task in every seed.')
    else:
        failed = []
        for method in PRETRAINED:
            passed = control.get(method, dict(per_seed=[]))['per_seed']
            bad = [s for s, ok in zip(settings['seeds'], passed) if not ok]
            if bad:
                failed.append(f'{NAMES[method]} (seeds {bad})')
        verdict = ('**Uninformative run: the positive control failed for '
                   f'{", ".join(failed)}.** A pretraining that did not '
                   'learn its pretext task says nothing about FAME; no '
                   'FAME - MoCo margin is reported.')
    rows = []
    for method in methods:
        cells = [results[method][task]['per_seed'] for task in RETRIEVAL_TASKS]
        if any(None in values for values in cells):
            continue
        passed = control.get(method, {}).get('per_seed')
        rows.append([NAMES[method]] + [_mean_std(v) for v in cells] + [
            QUERIES[OWN_TASK[method]] if method in OWN_TASK else '-',
            '-' if passed is None else ' '.join('yes' if ok else 'no'
                                                for ok in passed),
            _control_counts(control.get(method, {}).get('seeds', []))
        ])
    lines = [
        verdict, '',
        f'Instance retrieval on {UNBIASED_LIST} (top-1, %): the query a plain '
        'clip (MoCo\'s pretext task) or merged onto another video\'s '
        'background by FAME (FAME\'s). A pretraining passes in its own task '
        'when its hits beat the untrained backbone\'s on the same queries (a '
        f'{control["test"]} test at p < {control["p"]}; hits / untrained '
        'hits, p, per seed).', ''
    ] + common.table([
        'method', 'plain query', 'merged query', 'own task', 'passed',
        'hits / untrained, p'
    ], rows, 'lrrlll') + ['']
    rows = [[NAMES[m], protocol] + [
        _mean_std(results[m][protocol]['per_seed'][name])
        for name in TEST_LISTS
    ] for m in methods for protocol in PROTOCOLS]
    rows += [[name, 'linear'] +
             [_margin(m) for m in results[key]['linear'].values()]
             for name, key in margins]
    lines += common.table(['method', 'read-out', *TEST_LISTS], rows,
                          'll' + 'r' * len(TEST_LISTS))
    quality = results['mask_quality']
    lines += [
        '', f'Top-1 accuracy (%), mean ± std over seeds {settings["seeds"]}; '
        f'chance {results["chance"]:.1f} %. Linear probe and kNN '
        f'(k={settings["k"]}) on frozen, pooled backbone features.', '',
        f'FAME masks (beta {quality["beta"]}) against the true sprite masks '
        f'of {quality["videos"]} pretraining clips (%):', ''
    ] + common.table([
        'hue mode', 'IoU', 'sprite recall', 'best IoU at this beta',
        'random mask IoU'
    ], [[mode] + [
        f'{quality[mode][key]:.1f}'
        for key in ('iou', 'recall', 'iou_bound', 'iou_chance')
    ] for mode in HUE_MODES], 'lrrrr')
    if 'linear_cv' in results['fame_minus_moco']:
        rows = [[
            NAMES[m],
            _mean_std(results[m]['linear_cv']['per_seed'][UNBIASED_LIST])
        ] for m in methods]
        rows += [[name,
                  _margin(results[key]['linear_cv'][UNBIASED_LIST])]
                 for name, key in margins
                 if results[key].get('linear_cv', {}).get(UNBIASED_LIST)]
        lines += [
            '', 'Motion held by the features, with no scene to lean on: '
            f'linear probes fitted and tested within {UNBIASED_LIST} '
            f'({CV_FOLDS}-fold cross-validation), top-1 accuracy (%):', ''
        ] + common.table(['method', f'linear, fitted within {UNBIASED_LIST}'],
                         rows, 'lr')
    lines += ['', f'Command: `{settings["command"]}`', '']
    path.write_text('\n'.join(lines))


def write_chart(results: dict, path: Path) -> None:
    """Bar chart of both read-outs, with the seeds as dots."""
    methods = [m for m in NAMES if m in results]
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(len(TEST_LISTS))
    width = 0.8 / len(methods)
    for ax, protocol in zip(axes, PROTOCOLS):
        for i, method in enumerate(methods):
            seeds = results[method][protocol]['per_seed']
            offset = (i - (len(methods) - 1) / 2) * width
            ax.bar(
                x + offset, [np.mean(seeds[name]) for name in TEST_LISTS],
                width,
                color=COLOURS[method],
                label=NAMES[method].replace(' (reference)', ''))
            dots = [(x[j] + offset, value) for j, name in enumerate(TEST_LISTS)
                    for value in seeds[name]]
            ax.plot(*zip(*dots), 'k.', markersize=3)
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


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    work_dir = Path(args.work_dir).resolve()
    try:
        root = motion_dataset.ensure_dataset(
            Path(args.root).resolve(),
            args.size,
            sprite_size=motion_dataset.ACTORS[args.actors])
    except (FileExistsError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    lists = {name: root / f'{name}.txt' for name in motion_dataset.LISTS}
    classes = (root / 'classes.txt').read_text().split()
    work_dir.mkdir(parents=True, exist_ok=True)

    skip = dict(
        fame_auto=not args.adaptive_mask, fame_true_masks=not args.true_masks)
    methods = [m for m in NAMES if not skip.get(m)]
    per_seed: Dict[str, List[dict]] = {m: [] for m in methods}
    stages = len(args.seeds) * len(methods)
    for stage, (seed, method) in enumerate(product(args.seeds, methods), 1):
        tag = f'[{stage}/{stages}] seed {seed}, {method}:'
        # The references are read out through the FAME config's model and
        # pipeline.
        cfg = load_config(method if method in PRETRAINED else 'fame', root,
                          work_dir, seed, args.cfg_options, args.epochs)
        # A finished run's scores are kept: a rerun skips it.
        done = work_dir / method / f'seed{seed}' / 'readout.json'
        if done.is_file():
            print(f'{tag} done before, read from {done}')
            per_seed[method].append(json.loads(done.read_text()))
            continue
        if method == 'random_init':
            # Built outside a Runner, which would set the registry scope.
            init_default_scope(cfg.get('default_scope', 'mmaction'))
            torch.manual_seed(seed)
            model = MODELS.build(cfg.model)
        elif method == 'supervised':
            print(f'\n{tag} training with the labels', flush=True)
            trained = Runner.from_cfg(
                load_config(method, root, work_dir, seed, args.cfg_options,
                            args.epochs)).train()
            model = MODELS.build(cfg.model)
            model.backbone.load_state_dict(trained.backbone.state_dict())
        else:
            print(f'\n{tag} pretraining', flush=True)
            model = Runner.from_cfg(cfg).train()
        print(f'{tag} linear probe and kNN', flush=True)
        scores = read_out(model, cfg, lists, len(classes), args.k)
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(scores))
        per_seed[method].append(scores)

    print('\nScoring FAME masks against the true sprite masks', flush=True)
    results = summarise(
        per_seed, len(lists[UNBIASED_LIST].read_text().splitlines()))
    results['chance'] = 100 / len(classes)
    cfg = load_config('fame', root, work_dir, args.seeds[0], args.cfg_options,
                      args.epochs)
    beta = args.beta or cfg.model.data_preprocessor.fame.get('beta', 0.5)
    results['mask_quality'] = mask_quality(root, cfg, beta)
    results['settings'] = dict(
        command=common.command_line('bias_benchmark', argv),
        dataset=str(root),
        actors=args.actors,
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
    common.write_results(results, work_dir / 'results', write_markdown,
                         write_chart)
    print(f'Results in {work_dir}/results.{{json,md,png}}')
    return results


if __name__ == '__main__':
    main()
