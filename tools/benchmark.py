# Copyright (c) OpenMMLab. All rights reserved.
"""Measure what a MoCo + FAME pretraining step costs, as ratios.

Usage::

    python tools/benchmark.py [--device cpu|cuda] [--out WORK_DIR] [--quick]
        [--data-root DIR] [--workers N] [--threads N] [--repeats N]
        [--beta BETA|auto] [--compensate-camera]

Prints a table and writes ``WORK_DIR/benchmark.json``: FAME's share of a
step, the FAME op against its floor, two-view against one-view data, the
pretraining against the supervised step, their memory and the step's
scaling with the batch, each timed in interleaved rounds
(``docs/benchmark.md``).
"""
import argparse
import copy
import datetime
import json
import logging
import math
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

REPO_ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, REPO_ROOT)

import kornia  # noqa: E402
import mmaction  # noqa: E402
import mmengine  # noqa: E402
import torch  # noqa: E402
from mmaction.registry import DATASETS, MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import FUNCTIONS, init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import projects.fame  # noqa: E402,F401
from tools import common  # noqa: E402
from tools.data import motion_dataset  # noqa: E402

FORMAT = 'fame-benchmark/2'
CONFIGS = osp.join(REPO_ROOT, 'configs', '_base_')
MODEL_CONFIG = osp.join(CONFIGS, 'models', 'fame_r2plus1d_r18.py')
DATA_CONFIG = osp.join(CONFIGS, 'datasets', 'kinetics400_two_view.py')
SCHEDULE_CONFIG = osp.join(CONFIGS, 'schedules', 'sgd_step_200e.py')
# Two forward + backward passes and two key forward passes, against one
# forward + backward pass, with a backward pass costing two forward passes.
STEP_FLOOR = 8 / 3
TARGETS = dict(
    fame_fraction=0.03, two_view_cost=1.3, step_ratio_over_floor=1.15)


@dataclass(frozen=True)
class Settings:
    """Shapes and repeats of a run; ``batch_size`` in videos (two clips
    each in pretraining), ``dataset`` the generated dataset's size."""
    clip_len: int = 16  # frames per clip
    frame_interval: int = 2
    crop_size: int = 112
    batch_size: int = 8
    base_channels: int = 64  # width of the R(2+1)D-18 stem, as in the paper
    scaling_batches: Tuple[int, ...] = (1, 2, 4, 8)
    warmup: int = 1  # untimed rounds first
    repeats: int = 3  # timed rounds of the training steps
    op_repeats: int = 10  # timed rounds of the FAME op against its floor
    data_videos: int = 128  # videos per data pipeline pass
    data_repeats: int = 4  # passes of each data pipeline
    dataset: str = 'default'


DEFAULT = Settings()
QUICK = Settings(
    clip_len=8,
    crop_size=64,
    batch_size=4,
    base_channels=8,
    scaling_batches=(1, 2, 4),
    repeats=1,
    op_repeats=2,
    data_videos=16,
    data_repeats=1,
    dataset='tiny')


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved(cases: Dict[str, Callable[[], object]], warmup: int,
                repeats: int, device: torch.device) -> Dict[str, List[float]]:
    """Seconds of each case (a zero-argument callable) in each timed round,
    each round calling every case once, after ``warmup`` untimed rounds."""
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for round_index in range(warmup + repeats):
        for name, fn in cases.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            seconds = time.perf_counter() - start
            timed = round_index >= warmup
            if timed:
                times[name].append(seconds)
            tag = f'round {round_index + 1 - warmup}' if timed else 'warm-up'
            print(f'{tag:<9} {name:<20} {seconds:9.3f} s', flush=True)
    return times


def paired_ratio(numerator: Sequence[float],
                 denominator: Sequence[float]) -> float:
    """Median of per-round ratios of two interleaved cases."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def load_average() -> Optional[List[float]]:
    """1, 5 and 15 minute load averages, where the OS has them."""
    loads = os.getloadavg() if hasattr(os, 'getloadavg') else None
    return loads and [round(x, 2) for x in loads]


def machine_info(device: torch.device) -> dict:
    """What a reader needs to compare results across machines."""
    cpu = platform.processor() or platform.machine()
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip()
                        for line in f if line.startswith('model name')), cpu)
    cuda = device.type == 'cuda'
    return dict(
        cpu_model=cpu,
        cpu_count=len(os.sched_getaffinity(0)),
        torch_threads=torch.get_num_threads(),
        platform=platform.platform(),
        python=platform.python_version(),
        **{
            m.__name__: m.__version__
            for m in (torch, mmengine, mmaction, kornia)
        },
        device=str(device),
        device_name=torch.cuda.get_device_name(device) if cuda else cpu,
        **(dict(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
           if cuda else {}),
        load_average_start=load_average())


def dataloader_config(settings: Settings, root: str, two_views: bool,
                      workers: int, pin_memory: bool) -> dict:
    """The shipped two-view dataloader, or its one-view twin (MMAction2's
    ``VideoDataset``, ``pseudo_collate``), reading the first
    ``settings.data_videos`` videos of ``root`` in order at the settings'
    shapes, with the shipped batch size and prefetching."""
    shipped = Config.fromfile(DATA_CONFIG)
    pipeline = copy.deepcopy(shipped.train_pipeline)
    for transform in pipeline:
        if transform['type'] == 'SampleFrames':
            transform.update(
                clip_len=settings.clip_len,
                frame_interval=settings.frame_interval)
        elif (transform['type'] == 'Resize'
              and not transform.get('keep_ratio', True)):
            transform['scale'] = (settings.crop_size, settings.crop_size)
    data = dict(
        ann_file=osp.join(root, 'pretrain.txt'),
        data_prefix=dict(video=osp.join(root, 'videos')),
        pipeline=pipeline,
        indices=settings.data_videos)
    loader = shipped.train_dataloader.to_dict()
    if two_views:
        loader['sampler'].update(shuffle=False)
        loader['dataset'].update(data)
    else:
        loader = dict(
            batch_size=loader['batch_size'],
            prefetch_factor=loader.get('prefetch_factor', 2),
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='VideoDataset', **data))
    loader.update(
        num_workers=workers, persistent_workers=False, pin_memory=pin_memory)
    if workers == 0:
        loader.pop('prefetch_factor', None)
    return loader


def measure_data(settings: Settings, root: str, workers: int, pin_memory: bool,
                 num_videos: int) -> Tuple[dict, dict, dict]:
    """Two-view against one-view pipeline, in dataloaders and in process.

    Returns:
        tuple[dict, dict, dict]: The ``data_pipeline`` result, the clips per
        second of each pass, and each dataset's first ``num_videos`` videos
        collated.
    """
    configs = {
        name:
        dataloader_config(settings, root, name == 'two_view', workers,
                          pin_memory)
        for name in ('one_view', 'two_view')
    }
    rates: Dict[str, List[float]] = {name: [] for name in configs}
    for repeat in range(settings.data_repeats):
        for name, cfg in configs.items():
            # Clips per second after the first batch (which starts workers).
            batches = iter(Runner.build_dataloader(copy.deepcopy(cfg), seed=0))
            next(batches)
            start = time.perf_counter()
            clips = sum(len(batch['inputs']) for batch in batches)
            rates[name].append(clips / (time.perf_counter() - start))
            print(f'data {repeat + 1} {name} {rates[name][-1]:.1f} clips/s')
    cost = paired_ratio([2 * r for r in rates['one_view']], rates['two_view'])

    datasets = {k: DATASETS.build(v['dataset']) for k, v in configs.items()}
    seconds: Dict[str, List[float]] = {name: [] for name in configs}
    for index in range(settings.data_videos):
        for name, dataset in datasets.items():
            start = time.perf_counter()
            dataset[index]
            seconds[name].append(time.perf_counter() - start)
    in_process = paired_ratio(seconds['two_view'], seconds['one_view'])
    result = dict(
        workers=workers,
        videos_per_pass=settings.data_videos,
        batch_size=configs['two_view']['batch_size'],
        one_view_clips_per_s=statistics.median(rates['one_view']),
        two_view_clips_per_s=statistics.median(rates['two_view']),
        two_view_cost_per_video=cost,
        target=TARGETS['two_view_cost'],
        meets_target=cost <= TARGETS['two_view_cost'],
        in_process=dict(
            videos=settings.data_videos,
            one_view_s_per_video=statistics.median(seconds['one_view']),
            two_view_s_per_video=statistics.median(seconds['two_view']),
            two_view_cost_per_video=in_process,
            meets_target=in_process <= TARGETS['two_view_cost']))
    collate = dict(
        one_view=pseudo_collate,
        two_view=FUNCTIONS.get(configs['two_view']['collate_fn']['type']))
    batches = {
        name: collate[name]([dataset[i] for i in range(num_videos)])
        for name, dataset in datasets.items()
    }
    rates = {f'data_{k}_clips_per_s': v for k, v in rates.items()}
    return result, rates, batches


def sub_batch(batch: dict, num_items: int) -> dict:
    """The first ``num_items`` inputs and data samples of a batch."""
    return dict(
        inputs=batch['inputs'][:num_items],
        data_samples=batch['data_samples'][:num_items])


def build_models(
        settings: Settings,
        device: torch.device,
        beta: Union[float, str],
        compensate_camera: bool = False) -> Tuple[nn.Module, nn.Module]:
    """The shipped MoCo + FAME model and its supervised twin (the same
    backbone and normalisation, a 400-class ``I3DHead``), in training."""
    moco_cfg = Config.fromfile(MODEL_CONFIG).model.to_dict()
    moco_cfg['backbone']['base_channels'] = settings.base_channels
    width = settings.base_channels * 8  # pooled width of R(2+1)D-18
    moco_cfg['head']['in_channels'] = width
    moco_cfg['data_preprocessor']['fame'].update(
        beta=beta, compensate_camera=compensate_camera)
    moco = MODELS.build(moco_cfg)
    preprocessor = moco.data_preprocessor
    supervised = MODELS.build(
        dict(
            type='Recognizer3D',
            backbone=copy.deepcopy(moco_cfg['backbone']),
            cls_head=dict(
                type='I3DHead',
                num_classes=400,
                in_channels=width,
                average_clips='prob'),
            data_preprocessor=dict(
                type='ActionDataPreprocessor',
                mean=preprocessor.mean.flatten().tolist(),
                std=preprocessor.std.flatten().tolist(),
                format_shape='NCTHW')))
    return moco.to(device).train(), supervised.to(device).train()


def cpu_step_peak(fn: Callable[[], object]) -> int:
    """Peak bytes held by torch's CPU allocator during ``fn`` above its
    start: the maximum of the running sum of the allocations and frees the
    profiler records (frees of older blocks count as zero)."""
    with torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU],
            profile_memory=True) as prof:
        fn()
    events = sorted((event for event in prof.profiler.kineto_results.events()
                     if event.name() == '[memory]'
                     and event.device_type() == torch.autograd.DeviceType.CPU),
                    key=lambda event: event.start_ns())
    held = peak = 0
    for event in events:
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def measure_memory(step: Callable[[], object], model: nn.Module,
                   optim_wrapper: object, device: torch.device) -> dict:
    """Resident state (on the CPU: parameters, buffers and optimizer
    state) and the peak above it of one training step."""
    if device.type == 'cuda':
        synchronize(device)
        resident = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - resident
    else:
        tensors = list(model.state_dict(keep_vars=True).values()) + [
            v for state in optim_wrapper.optimizer.state.values()
            for v in state.values() if isinstance(v, Tensor)
        ]
        storages = {t.untyped_storage().data_ptr(): t for t in tensors}
        resident = sum(t.untyped_storage().nbytes() for t in storages.values())
        peak = cpu_step_peak(step)
    return dict(
        resident_bytes=resident,
        step_peak_bytes=peak,
        total_peak_bytes=resident + peak)


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict:
    """Least-squares ``y = fixed + slope * x``, r^2 and worst residual."""
    slope, fixed = statistics.linear_regression(xs, ys)
    return dict(
        fixed_s=fixed,
        per_video_s=slope,
        r2=statistics.correlation(xs, ys)**2 if len(set(ys)) > 1 else 1.0,
        max_relative_residual=max(
            abs(y - fixed - slope * x) / y for x, y in zip(xs, ys)))


def format_table(results: dict) -> str:
    """The results as a plain-text table."""
    fame, op, step = (
        results[k] for k in ('fame_fraction', 'fame_op', 'step_cost'))
    data, mem, scaling = (
        results[k] for k in ('data_pipeline', 'memory', 'scaling'))
    proc, fit = data['in_process'], scaling['fit']

    def mib(key: str) -> str:
        return ' / '.join(f'{mem[name][key] / 2**20:.1f}'
                          for name in ('pretrain', 'supervised')) + ' MiB'

    met = {True: 'yes', False: 'NO'}.get

    two_view = f"<= {data['target']}"
    rows = [
        ('1. FAME mask+merge / pretraining step',
         f"{fame['fraction']:.2%} ({fame['fame_s'] * 1e3:.1f} ms / "
         f"{fame['pretrain_step_s']:.2f} s)", f"<= {fame['target']:.0%}",
         met(fame['meets_target'])),
        ('2. FAME batched op / one elementwise pass',
         f"{op['batched_over_floor']:.1f} x ({op['batched_s'] * 1e3:.1f} / "
         f"{op['floor_s'] * 1e3:.2f} ms)", '', ''),
        ('3. two-view / one-view cost per video',
         f"{data['two_view_cost_per_video']:.2f} x "
         f"({data['two_view_clips_per_s']:.1f} vs "
         f"{data['one_view_clips_per_s']:.1f} clips/s, {data['workers']} "
         'workers)', two_view, met(data['meets_target'])),
        ('   the same in process, video by video',
         f"{proc['two_view_cost_per_video']:.2f} x "
         f"({proc['two_view_s_per_video'] * 1e3:.1f} vs "
         f"{proc['one_view_s_per_video'] * 1e3:.1f} ms)", two_view,
         met(proc['meets_target'])),
        ('4. pretraining / supervised step',
         f"{step['ratio']:.2f} x ({step['pretrain_step_s']:.2f} / "
         f"{step['supervised_step_s']:.2f} s)", f'floor {STEP_FLOOR:.2f}', ''),
        ('   ratio / floor 8/3', f"{step['ratio_over_floor']:.3f}",
         f"<= {step['target_ratio_over_floor']}", met(step['meets_target'])),
        ('   ratio / measured floor',
         f"{step['ratio_over_measured_floor']:.3f} "
         f"(floor {step['floor_measured']:.2f})", '', ''),
        ('5. peak memory, pretraining / supervised',
         f"{mem['total_ratio']:.2f} x ({mib('total_peak_bytes')})", '', ''),
        ('   step peak above resident state',
         f"{mem['step_peak_ratio']:.2f} x ({mib('step_peak_bytes')})", '', '')
    ]
    rows += [
        (f'6. pretraining step, batch {batch}',
         f'{seconds:.3f} s ({rel:.2f} x per video)', '', '')
        for batch, seconds, rel in zip(scaling['batches'], scaling['step_s'],
                                       scaling['per_video_relative'])
    ]
    rows = [('measurement', 'value', 'target', 'met')] + rows + [
        ('   linear fit', f"{fit['fixed_s']:.3f} s + "
         f"{fit['per_video_s']:.3f} s/video, r2 {fit['r2']:.4f}", '', '')
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rows.insert(1, tuple('-' * width for width in widths))
    return '\n'.join('  '.join(c.ljust(w)
                               for c, w in zip(row, widths)).rstrip()
                     for row in rows)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Measure the cost of MoCo + FAME pretraining steps')
    add = parser.add_argument
    add('--device', default='cpu', choices=['cpu', 'cuda'])
    add('--out', default='work_dirs/benchmark', help='folder of the JSON')
    add('--quick', action='store_true', help='a smoke test: tiny shapes')
    add('--data-root', help='a motion dataset (default: a generated one)')
    add('--workers',
        type=common.at_least(0),
        help='dataloader workers (default: the config\'s, at most the CPUs)')
    add('--threads', type=common.at_least(1), help='torch intra-op threads')
    add('--beta', type=common.parse_beta, default=0.5, help="or 'auto'")
    add('--compensate-camera', action='store_true', help='in FAME\'s mask')
    add('--repeats',
        type=common.at_least(1),
        help='timed rounds of the training steps (default 3, quick 1)')
    return parser.parse_args(argv)


def run(args: argparse.Namespace, tmp_dir: str) -> dict:
    """Run every measurement and return the JSON document."""
    device = torch.device(args.device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise RuntimeError('--device cuda: no CUDA device is available')
        torch.backends.cudnn.benchmark = True  # as env_cfg of the configs
    settings = QUICK if args.quick else DEFAULT
    if args.repeats is not None:
        settings = replace(settings, repeats=args.repeats)
    workers = args.workers
    if workers is None:
        shipped = Config.fromfile(DATA_CONFIG).train_dataloader.num_workers
        workers = min(shipped, os.cpu_count() or 1)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    init_default_scope('mmaction')
    # Keep the output readable: mmaction's loaders warn about FileClient.
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    info = machine_info(device)
    batch = settings.batch_size
    batches = sorted(set(settings.scaling_batches) | {batch})

    if args.data_root:
        root = args.data_root
        motion_dataset.check_dataset(Path(root))
    else:
        root = str(
            motion_dataset.ensure_dataset(
                osp.join(tmp_dir, f'motion_{settings.dataset}'),
                settings.dataset,
                progress=False))
    data, data_times, first = measure_data(settings, root, workers,
                                           device.type == 'cuda', max(batches))
    two_view, one_view = first['two_view'], first['one_view']
    torch.manual_seed(0)
    moco, supervised = build_models(settings, device, args.beta,
                                    args.compensate_camera)
    optim_cfg = Config.fromfile(SCHEDULE_CONFIG).optim_wrapper.to_dict()
    moco_optim = build_optim_wrapper(moco, copy.deepcopy(optim_cfg))
    supervised_optim = build_optim_wrapper(supervised, optim_cfg)
    preprocessor = moco.data_preprocessor
    pretrain_batch = sub_batch(two_view, 2 * batch)
    # View 1 in [0, 1] as the preprocessor hands it to FAME; view 2 as the
    # key encoder gets it.
    clips = torch.cat(pretrain_batch['inputs'][0::2]).to(device)
    view1 = clips.float().div(255)
    with torch.no_grad():
        key_input = preprocessor(pretrain_batch, training=True)['inputs'][1]
    last_log: dict = {}

    def pretrain_step(num_videos: int) -> Callable[[], object]:
        data_batch = sub_batch(two_view, 2 * num_videos)
        return lambda: last_log.update(moco.train_step(data_batch, moco_optim))

    def supervised_step() -> None:
        supervised.train_step(sub_batch(one_view, batch), supervised_optim)

    def fame() -> Tensor:
        return preprocessor.fame.merge(view1)

    cases = {f'pretrain_step_b{b}': pretrain_step(b) for b in batches}
    cases.update(
        supervised_step=supervised_step,
        key_forward=lambda: moco.encode_key(key_input),
        fame=fame)
    times = interleaved(cases, settings.warmup, settings.repeats, device)
    finite = all(math.isfinite(float(v.detach())) for v in last_log.values())
    times.update(
        interleaved(
            dict(fame_batched=fame, elementwise_pass=lambda: view1.mul(1.0)),
            settings.warmup, settings.op_repeats, device))
    pre = measure_memory(pretrain_step(batch), moco, moco_optim, device)
    sup = measure_memory(supervised_step, supervised, supervised_optim, device)

    med = {name: statistics.median(values) for name, values in times.items()}
    step = f'pretrain_step_b{batch}'
    ratio = paired_ratio(times[step], times['supervised_step'])
    floor_measured = 2 + 2 * paired_ratio(times['key_forward'],
                                          times['supervised_step'])
    fraction = paired_ratio(times['fame'], times[step])
    scaling_s = [med[f'pretrain_step_b{b}'] for b in batches]
    per_video = [s / b for s, b in zip(scaling_s, batches)]
    results = dict(
        fame_fraction=dict(
            fame_s=med['fame'],
            pretrain_step_s=med[step],
            fraction=fraction,
            target=TARGETS['fame_fraction'],
            meets_target=fraction <= TARGETS['fame_fraction']),
        fame_op=dict(
            batched_s=med['fame_batched'],
            floor_s=med['elementwise_pass'],
            batched_over_floor=paired_ratio(times['fame_batched'],
                                            times['elementwise_pass']),
            clips=batch),
        data_pipeline=data,
        step_cost=dict(
            pretrain_step_s=med[step],
            supervised_step_s=med['supervised_step'],
            key_forward_s=med['key_forward'],
            ratio=ratio,
            floor=STEP_FLOOR,
            ratio_over_floor=ratio / STEP_FLOOR,
            floor_measured=floor_measured,
            ratio_over_measured_floor=ratio / floor_measured,
            target_ratio_over_floor=TARGETS['step_ratio_over_floor'],
            meets_target=ratio / STEP_FLOOR
            <= TARGETS['step_ratio_over_floor'],
            losses_finite=finite),
        memory=dict(
            method=('torch.cuda.max_memory_allocated' if device.type == 'cuda'
                    else 'torch.profiler CPU allocator events'),
            pretrain=pre,
            supervised=sup,
            total_ratio=pre['total_peak_bytes'] / sup['total_peak_bytes'],
            step_peak_ratio=pre['step_peak_bytes'] / sup['step_peak_bytes']),
        scaling=dict(
            batches=batches,
            step_s=scaling_s,
            per_video_relative=[p / per_video[-1] for p in per_video],
            fit=linear_fit(batches, scaling_s)))
    info['load_average_end'] = load_average()
    settings_dict = dict(
        asdict(settings),
        scaling_batches=batches,
        workers=workers,
        fame_beta=args.beta,
        fame_compensate_camera=args.compensate_camera,
        data_root=args.data_root or 'generated in a temporary folder')
    return dict(
        format=FORMAT,
        command=common.command_line('benchmark', args.argv),
        created=datetime.datetime.now().astimezone().isoformat(
            timespec='seconds'),
        quick=args.quick,
        machine=info,
        settings=settings_dict,
        results=results,
        timings=dict(times, **data_times))


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the benchmark, print the table and write benchmark.json."""
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='fame_benchmark_') as tmp_dir:
        document = run(args, tmp_dir)
    path = osp.join(args.out, 'benchmark.json')
    with open(path, 'w') as f:
        json.dump(document, f, indent=2)
    info = document['machine']
    print(f"\n{info['device_name']}, {info['cpu_count']} CPUs, "
          f"{info['torch_threads']} torch threads, load "
          f"{info['load_average_start']} -> {info['load_average_end']}\n" +
          format_table(document['results']))
    print(f'\nWritten {path}')
    return document


if __name__ == '__main__':
    main()
