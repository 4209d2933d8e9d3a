# Copyright (c) OpenMMLab. All rights reserved.
"""Measure what a MoCo + FAME pretraining step costs, as ratios.

Usage::

    python tools/benchmark.py [--device cpu|cuda] [--out WORK_DIR] [--quick]
        [--data-root DIR] [--workers N] [--threads N] [--repeats N]

It prints a table and writes ``WORK_DIR/benchmark.json`` (default
``work_dirs/benchmark``). Every figure is a ratio of measurements taken side
by side in one run on this machine: the cases of a comparison are timed in
interleaved rounds (after warm-up rounds) and compared by the median of
their per-round ratios, so that a change of load during the run hits both
sides alike.

1. ``fame_fraction``: FAME mask + merge of view 1 of one batch, as a fraction
   of one whole pretraining step (data preprocessor, FAME, colour
   augmentation, EMA update, two query forward passes, two key forward
   passes, symmetric loss, backward, SGD step). Target: at most 3 %.
2. ``fame_op``: the batched FAME op against a straightforward per-clip
   implementation of the same algorithm (:func:`fame_per_clip`; masks and
   merged clips are asserted equal) and against its cost floor, one
   elementwise pass over the batch (``x.mul(1.0)``).
3. ``data_pipeline``: clips per second of the two-view pretraining pipeline
   (the ``RepeatAugDataset(num_repeats=2)`` dataloader of
   ``configs/_base_/datasets/kinetics400_two_view.py``, whose
   ``repeat_stack_collate`` stacks a batch's clips into one tensor in the
   worker) against the same pipeline as a one-view supervised
   ``VideoDataset`` with MMEngine's default ``pseudo_collate`` (a list of
   clips), same videos, same workers; and the same two datasets in this
   process, video by video. Target: a two-view sample costs at most 1.3 x
   a one-view one.
4. ``step_cost``: one MoCo + FAME step against one supervised
   ``Recognizer3D`` step (same backbone, batch, input). Floor 8/3: two
   forward + backward passes and two key forward passes against one
   forward + backward, a backward pass costing two forward passes. Target:
   at most 1.15 x the floor.
5. ``memory``: peak memory of the pretraining step against the supervised
   step: tensor memory held by the step above its starting state (model,
   optimizer state, input batch). CUDA: ``torch.cuda.max_memory_allocated``.
   CPU: the allocation and free events of torch's CPU allocator recorded by
   ``torch.profiler`` (``profile_memory=True``), summed in time order: the
   same quantity, unaffected by the process's other memory.
6. ``scaling``: pretraining step time for batches 1, 2, 4, 8 and a linear fit.
7. ``audit``: the per-step path (preprocessor, FAME, colour augmentation,
   shuffle BN, enqueue, loss with the EMA update, backward and SGD step
   through the shipped optimizer wrapper) run on the ``meta`` device, the
   accelerator's stand-in, under a ``TorchDispatchMode`` at two batch sizes.
   It lists every host read of a device value (``.item()``, ``if tensor``,
   ``nonzero``, boolean indexing: each one synchronises a GPU) with its
   source line (for the record: ``Runner`` reads the loss on the host at
   every iteration anyway), every host-to-device copy with its origin and
   whether it blocks, and the number of device ops of each stage, which
   must not grow with the batch (no Python loop over clips).

Defaults are the paper's R(2+1)D-18 setting: the shipped model config
``configs/_base_/models/fame_r2plus1d_r18.py``, 16 x 2 clips at 112 x 112, 8
videos per process, SGD of the shipped schedule. The videos come from
``tools/data/make_motion_dataset.py`` (generated into a temporary folder
unless ``--data-root`` names one). ``--quick`` shrinks the shapes, the model
width and the repeats to a smoke test of a few seconds.

JSON layout (see ``docs/benchmark.md``; times in seconds, memory in bytes)::

    {
      "format": "fame-benchmark/1",
      "command": str, "created": ISO time, "quick": bool,
      "machine": {"cpu_model", "cpu_count", "torch_threads", "platform",
                  "python", "torch", "mmengine", "mmaction", "kornia",
                  "device", "device_name", "load_average_start",
                  "load_average_end"[, "cuda", "cudnn"]},
      "settings": {"clip_len", "frame_interval", "crop_size", "batch_size",
                   "base_channels", "scaling_batches", "warmup", "repeats",
                   "op_repeats", "data_videos", "data_repeats", "dataset",
                   "workers", "data_root"},
      "results": {"fame_fraction": {...}, "fame_op": {...},
                  "data_pipeline": {...}, "step_cost": {...},
                  "memory": {...}, "scaling": {...}, "audit": {...}},
      "timings": {case: [seconds of each timed repeat]}
    }
"""
import argparse
import contextlib
import copy
import datetime
import inspect
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
import traceback
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

# Put the repository root first on ``sys.path`` so that ``projects.fame`` and
# ``tools.data`` import whatever the working directory is.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[:1] != [REPO_ROOT]:
    sys.path.insert(0, REPO_ROOT)

import kornia  # noqa: E402
import mmaction  # noqa: E402
import mmengine  # noqa: E402
import torch  # noqa: E402
from kornia.filters import gaussian_blur2d  # noqa: E402
from mmaction.registry import DATASETS, MODELS  # noqa: E402
from mmaction.structures import ActionDataSample  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import FUNCTIONS, init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

import projects.fame  # noqa: E402,F401
from projects.fame.models.utils import batch_shuffle_ddp  # noqa: E402
from projects.fame.models.utils import batch_unshuffle_ddp  # noqa: E402
from projects.fame.ops import blur_kernel_size  # noqa: E402
from projects.fame.ops import colour_bins  # noqa: E402
from projects.fame.ops import foreground_mask  # noqa: E402
from projects.fame.ops import merge_foreground_background  # noqa: E402
from projects.fame.ops.fame import BACKGROUND_SEED_RATIO  # noqa: E402
from projects.fame.ops.fame import FOREGROUND_SEED_RATIO  # noqa: E402
from projects.fame.ops.fame import NUM_BINS  # noqa: E402

FORMAT = 'fame-benchmark/1'
MODEL_CONFIG = osp.join(REPO_ROOT,
                        'configs/_base_/models/fame_r2plus1d_r18.py')
DATA_CONFIG = osp.join(REPO_ROOT,
                       'configs/_base_/datasets/kinetics400_two_view.py')
SCHEDULE_CONFIG = osp.join(REPO_ROOT,
                           'configs/_base_/schedules/sgd_step_200e.py')
# Two forward + backward passes and two key forward passes, against one
# forward + backward pass, with a backward pass costing two forward passes.
STEP_FLOOR = 8 / 3
TARGETS = dict(
    fame_fraction=0.03, two_view_cost=1.3, step_ratio_over_floor=1.15)
# Ops that read a device tensor's value on the host: each one waits for the
# device (on CUDA, a synchronisation).
HOST_READ_OPS = frozenset({
    'aten::_local_scalar_dense', 'aten::nonzero', 'aten::nonzero_static',
    'aten::masked_select', 'aten::_unique', 'aten::_unique2',
    'aten::unique_dim', 'aten::unique_consecutive', 'aten::bincount',
    'aten::histc', 'aten::repeat_interleave', 'aten::equal', 'aten::is_nonzero'
})
COPY_OPS = frozenset({'aten::_to_copy', 'aten::copy_', 'aten::lift_fresh'})
# Fused optimizer steps: in place, with no meta kernel; on the meta device
# they are counted as one device op that changes nothing.
FUSED_OPTIMIZER_OPS = frozenset(
    {'aten::_fused_sgd_', 'aten::_fused_adam_', 'aten::_fused_adamw_'})
# kornia's helper that copies host tensors to a CUDA device with
# non_blocking=True (and blocking to any other device, meta included).
KORNIA_NON_BLOCKING = '_to_device_nonblocking'


@dataclass(frozen=True)
class Settings:
    """Shapes and repeats of one benchmark run.

    Args:
        clip_len (int): Frames per clip.
        frame_interval (int): Temporal stride of the sampled frames.
        crop_size (int): Spatial size of a clip.
        batch_size (int): Videos per step (each gives two clips in
            pretraining).
        base_channels (int): Width of the R(2+1)D-18 stem (64 in the paper).
        scaling_batches (tuple[int]): Batches of the scaling measurement.
        warmup (int): Untimed rounds before the timed ones.
        repeats (int): Timed rounds of the training steps.
        op_repeats (int): Timed rounds of the FAME op comparison.
        data_videos (int): Videos per data pipeline pass.
        data_repeats (int): Passes of each data pipeline.
        dataset (str): Size of the generated dataset (see
            ``tools/data/make_motion_dataset.py``).
    """
    clip_len: int = 16
    frame_interval: int = 2
    crop_size: int = 112
    batch_size: int = 8
    base_channels: int = 64
    scaling_batches: Tuple[int, ...] = (1, 2, 4, 8)
    warmup: int = 1
    repeats: int = 3
    op_repeats: int = 10
    data_videos: int = 128
    data_repeats: int = 4
    dataset: str = 'default'


DEFAULT = Settings()
QUICK = Settings(
    clip_len=8,
    crop_size=64,
    batch_size=4,
    base_channels=8,
    scaling_batches=(1, 2, 4),
    warmup=1,
    repeats=1,
    op_repeats=2,
    data_videos=16,
    data_repeats=1,
    dataset='tiny')


class Progress:
    """One line per measurement: index, total, label, duration, elapsed."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.perf_counter()

    def update(self, label: str, seconds: Optional[float] = None) -> None:
        """Report one finished measurement."""
        self.done += 1
        took = '' if seconds is None else f' {seconds:8.3f} s'
        elapsed = time.perf_counter() - self.start
        print(
            f'[{self.done:3d}/{self.total:3d}] {label:<40}{took}'
            f'   (elapsed {elapsed:6.0f} s)',
            flush=True)


# --------------------------------------------------------------------------
# Timing


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of ``fn()``, device work included."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def interleaved(cases: Dict[str, Callable[[], object]], warmup: int,
                repeats: int, device: torch.device,
                progress: Progress) -> Dict[str, List[float]]:
    """Time every case once per round, round after round.

    Args:
        cases (dict[str, Callable]): Name and zero-argument callable.
        warmup (int): Untimed rounds first.
        repeats (int): Timed rounds.
        device (torch.device): Device to synchronise.
        progress (Progress): Progress display.

    Returns:
        dict[str, list[float]]: Seconds of each case in each timed round.
    """
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for round_index in range(warmup + repeats):
        timed = round_index >= warmup
        tag = (f'round {round_index - warmup + 1}/{repeats}'
               if timed else f'warm-up {round_index + 1}/{warmup}')
        for name, fn in cases.items():
            seconds = time_call(fn, device)
            if timed:
                times[name].append(seconds)
            progress.update(f'{name} ({tag})', seconds)
    return times


def paired_ratio(numerator: Sequence[float],
                 denominator: Sequence[float]) -> float:
    """Median of per-round ratios of two interleaved cases."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return statistics.median(values)


# --------------------------------------------------------------------------
# Machine


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, or the platform's answer."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> Optional[List[float]]:
    """1, 5 and 15 minute load averages, where the OS has them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info(device: torch.device) -> dict:
    """What a reader needs to compare results across machines."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    info = dict(
        cpu_model=cpu_model(),
        cpu_count=cpus,
        torch_threads=torch.get_num_threads(),
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmaction=mmaction.__version__,
        kornia=kornia.__version__,
        device=str(device),
        device_name=cpu_model(),
        load_average_start=load_average())
    if device.type == 'cuda':
        info.update(
            device_name=torch.cuda.get_device_name(device),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version())
    return info


# --------------------------------------------------------------------------
# Data


def prepare_dataset(data_root: Optional[str], size: str, tmp_dir: str) -> str:
    """Folder of a motion dataset: ``data_root`` or a new one in tmp_dir."""
    if data_root is not None:
        ann_file = osp.join(data_root, 'pretrain.txt')
        if not osp.isfile(ann_file):
            raise FileNotFoundError(
                f'--data-root {data_root!r} holds no pretrain.txt; make one '
                'with tools/data/make_motion_dataset.py')
        return data_root
    from tools.data.make_motion_dataset import generate
    root = osp.join(tmp_dir, f'motion_{size}')
    print(f'Generating the {size!r} motion dataset in {root} ...', flush=True)
    generate(root, size=size, seed=0, progress=False)
    return root


def train_pipeline(settings: Settings) -> List[dict]:
    """The shipped two-view training pipeline at the benchmark's shapes."""
    pipeline = copy.deepcopy(Config.fromfile(DATA_CONFIG).train_pipeline)
    for transform in pipeline:
        if transform['type'] == 'SampleFrames':
            transform.update(
                clip_len=settings.clip_len,
                frame_interval=settings.frame_interval)
        elif (transform['type'] == 'Resize'
              and not transform.get('keep_ratio', True)):
            transform['scale'] = (settings.crop_size, settings.crop_size)
    return pipeline


def dataloader_config(settings: Settings, root: str, two_views: bool,
                      workers: int, num_videos: int, pin_memory: bool) -> dict:
    """The shipped two-view dataloader, or a one-view supervised twin.

    Both read the first ``num_videos`` videos of ``root`` in order, with the
    shipped batch size and prefetching and the given workers. The one-view
    twin is MMAction2's ``VideoDataset`` with the same pipeline.
    """
    shipped = Config.fromfile(DATA_CONFIG).train_dataloader.to_dict()
    data = dict(
        ann_file=osp.join(root, 'pretrain.txt'),
        data_prefix=dict(video=osp.join(root, 'videos')),
        pipeline=train_pipeline(settings),
        indices=num_videos)
    if two_views:
        loader = copy.deepcopy(shipped)
        loader['sampler'].update(shuffle=False)
        loader['dataset'].update(data)
    else:
        loader = dict(
            batch_size=shipped['batch_size'],
            prefetch_factor=shipped.get('prefetch_factor', 2),
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='VideoDataset', **data))
    loader.update(
        num_workers=workers, persistent_workers=False, pin_memory=pin_memory)
    if workers == 0:
        loader.pop('prefetch_factor', None)
    return loader


def pipeline_pass(loader_cfg: dict) -> Tuple[int, float]:
    """Clips delivered after the first batch, and the seconds they took.

    The first batch is left out: it pays for starting the workers.
    """
    loader = Runner.build_dataloader(copy.deepcopy(loader_cfg), seed=0)
    batches = iter(loader)
    next(batches)
    start = time.perf_counter()
    clips = sum(len(batch['inputs']) for batch in batches)
    seconds = time.perf_counter() - start
    del batches, loader
    return clips, seconds


def measure_data(settings: Settings, root: str, workers: int, pin_memory: bool,
                 progress: Progress) -> Tuple[dict, dict]:
    """Throughput of the two-view against the one-view pipeline."""
    configs = {
        'one_view':
        dataloader_config(settings, root, False, workers, settings.data_videos,
                          pin_memory),
        'two_view':
        dataloader_config(settings, root, True, workers, settings.data_videos,
                          pin_memory)
    }
    rates: Dict[str, List[float]] = {name: [] for name in configs}
    for repeat in range(settings.data_repeats):
        for name, cfg in configs.items():
            clips, seconds = pipeline_pass(cfg)
            rates[name].append(clips / seconds)
            progress.update(
                f'data {name} ({repeat + 1}/{settings.data_repeats}): '
                f'{clips} clips', seconds)
    # A two-view sample is one video: its cost against a one-view sample's.
    cost = statistics.median(
        one / (two / 2)
        for one, two in zip(rates['one_view'], rates['two_view']))
    result = dict(
        workers=workers,
        videos_per_pass=settings.data_videos,
        batch_size=configs['two_view']['batch_size'],
        one_view_clips_per_s=median(rates['one_view']),
        two_view_clips_per_s=median(rates['two_view']),
        two_view_cost_per_video=cost,
        target=TARGETS['two_view_cost'],
        meets_target=cost <= TARGETS['two_view_cost'],
        in_process=per_sample_costs(settings, root, progress))
    return result, {f'data_{k}_clips_per_s': v for k, v in rates.items()}


def per_sample_costs(settings: Settings, root: str,
                     progress: Progress) -> dict:
    """Seconds per sample of both datasets, alternating video by video.

    In this process, without dataloader workers: the pipelines' own cost,
    each video read by both right after each other.
    """
    datasets = {
        name:
        DATASETS.build(
            dataloader_config(settings, root, name == 'two_view', 0,
                              settings.data_videos, False)['dataset'])
        for name in ('one_view', 'two_view')
    }
    seconds: Dict[str, List[float]] = {name: [] for name in datasets}
    start = time.perf_counter()
    for index in range(settings.data_videos):
        for name, dataset in datasets.items():
            seconds[name].append(-time.perf_counter())
            dataset[index]
            seconds[name][-1] += time.perf_counter()
    progress.update(f'data in process, {settings.data_videos} videos',
                    time.perf_counter() - start)
    cost = paired_ratio(seconds['two_view'], seconds['one_view'])
    return dict(
        videos=settings.data_videos,
        one_view_s_per_video=median(seconds['one_view']),
        two_view_s_per_video=median(seconds['two_view']),
        two_view_cost_per_video=cost,
        meets_target=cost <= TARGETS['two_view_cost'])


def two_view_collate() -> Callable[[Sequence], dict]:
    """The collate function of the shipped two-view dataloader."""
    collate = Config.fromfile(DATA_CONFIG).train_dataloader.collate_fn
    return FUNCTIONS.get(collate['type'])


def first_batches(settings: Settings, root: str,
                  num_videos: int) -> Tuple[dict, dict]:
    """A two-view and a one-view batch of the same first videos.

    Each is collated as its dataloader does: the two-view batch with the
    shipped collate function, the one-view batch with ``pseudo_collate``.
    """
    two = DATASETS.build(
        dataloader_config(settings, root, True, 0, num_videos,
                          False)['dataset'])
    one = DATASETS.build(
        dataloader_config(settings, root, False, 0, num_videos,
                          False)['dataset'])
    two_view = two_view_collate()([two[i] for i in range(num_videos)])
    one_view = pseudo_collate([one[i] for i in range(num_videos)])
    return two_view, one_view


def sub_batch(batch: dict, num_items: int) -> dict:
    """The first ``num_items`` inputs and data samples of a batch."""
    return dict(
        inputs=batch['inputs'][:num_items],
        data_samples=batch['data_samples'][:num_items])


# --------------------------------------------------------------------------
# Models


def model_configs(settings: Settings) -> Tuple[dict, dict]:
    """The shipped MoCo + FAME model and its supervised twin."""
    moco = Config.fromfile(MODEL_CONFIG).model.to_dict()
    moco['backbone']['base_channels'] = settings.base_channels
    width = settings.base_channels * 8  # pooled width of R(2+1)D-18
    moco['head']['in_channels'] = width
    # The same normalisation as the pretraining preprocessor.
    preprocessor_cfg = moco['data_preprocessor']
    signature = inspect.signature(
        MODELS.get(preprocessor_cfg['type']).__init__).parameters
    mean = preprocessor_cfg.get('mean', signature['mean'].default)
    std = preprocessor_cfg.get('std', signature['std'].default)
    supervised = dict(
        type='Recognizer3D',
        backbone=copy.deepcopy(moco['backbone']),
        cls_head=dict(
            type='I3DHead',
            num_classes=400,
            in_channels=width,
            spatial_type='avg',
            dropout_ratio=0.5,
            init_std=0.01,
            average_clips='prob'),
        data_preprocessor=dict(
            type='ActionDataPreprocessor',
            mean=list(mean),
            std=list(std),
            format_shape='NCTHW'))
    return moco, supervised


def build_model(cfg: dict, device: torch.device) -> Tuple[nn.Module, object]:
    """A model in training mode and the shipped SGD optimizer wrapper."""
    model = MODELS.build(copy.deepcopy(cfg)).to(device)
    model.train()
    optim_cfg = Config.fromfile(SCHEDULE_CONFIG).optim_wrapper.to_dict()
    return model, build_optim_wrapper(model, optim_cfg)


# --------------------------------------------------------------------------
# FAME op reference


def fame_per_clip(clips: Tensor,
                  perm: Tensor,
                  beta: float = 0.5,
                  hue_mode: str = 'turns') -> Tuple[Tensor, Tensor]:
    """FAME written clip by clip, as the algorithm reads (the reference).

    It shares the colour binning (:func:`colour_bins`) and kornia's Gaussian
    blur with the batched op; seeds (a full ``argsort``), histograms
    (``bincount``), mask and merge are written per clip, in Python loops.

    Args:
        clips (Tensor): RGB clips of shape (N, 3, T, H, W) in [0, 1].
        perm (Tensor): Background source index of each clip, shape (N, ).
        beta (float): Fraction of pixels kept as foreground.
        hue_mode (str): See :func:`projects.fame.ops.colour_bins`.

    Returns:
        Tuple[Tensor, Tensor]: Boolean masks (N, H, W) and merged clips.
    """
    height, width = clips.shape[-2:]
    num_pixels = height * width
    k = blur_kernel_size(min(height, width))

    def blur(image: Tensor) -> Tensor:
        return gaussian_blur2d(
            image[None, None], (k, k), (k / 3, k / 3),
            border_type='reflect')[0, 0]

    def normalize(image: Tensor) -> Tensor:
        shifted = image - image.min()
        return shifted / (shifted.max() + 1e-8)

    masks = []
    for clip in clips:  # (3, T, H, W)
        diff = (clip[:, :-1] - clip[:, 1:]).abs().sum(0).mean(0)
        order = normalize(blur(diff)).flatten().argsort(descending=True)
        fg_seeds = order[:int(FOREGROUND_SEED_RATIO * num_pixels)]
        bg_seeds = order[num_pixels - int(BACKGROUND_SEED_RATIO * num_pixels):]
        bins = colour_bins(clip.mean(1)[None], hue_mode)[0].flatten()
        p_fg = torch.bincount(bins[fg_seeds], minlength=NUM_BINS).float()
        p_fg = p_fg / p_fg.sum()
        p_bg = torch.bincount(bins[bg_seeds], minlength=NUM_BINS).float() + 1
        p_bg = p_bg / p_bg.sum()
        score = p_fg[bins] / (p_fg[bins] + p_bg[bins])
        score = normalize(blur(score.view(height, width)))
        mask = torch.zeros(num_pixels, dtype=torch.bool, device=clips.device)
        mask[score.flatten().topk(int(beta * num_pixels)).indices] = True
        masks.append(mask.view(height, width))
    merged = torch.empty_like(clips)
    for i, clip in enumerate(clips):
        merged[i] = torch.where(masks[i], clip, clips[perm[i]])
    return torch.stack(masks), merged


def fame_batched(clips: Tensor,
                 perm: Tensor,
                 beta: float = 0.5,
                 hue_mode: str = 'turns') -> Tuple[Tensor, Tensor]:
    """The FAME op of ``projects/fame/ops/fame.py`` with a given perm."""
    masks = foreground_mask(clips, beta, hue_mode)
    return masks, merge_foreground_background(clips, masks, perm)


@contextlib.contextmanager
def native_convolution() -> Iterator[None]:
    """Use the convolutions that compute every sample of a batch alike.

    oneDNN and cuDNN choose their algorithm, and so their rounding, by the
    batch size: a map blurred in a batch of 8 can differ in its last bits
    from the same map blurred alone, which flips near-tied seeds or mask
    pixels. PyTorch's native convolution does not.
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with torch.backends.mkldnn.flags(enabled=False), \
                torch.backends.cudnn.flags(enabled=False):
            yield


def check_fame_reference(clips: Tensor, perm: Tensor) -> dict:
    """Assert that the per-clip reference and the batched op agree exactly.

    Run with :func:`native_convolution`, so that both blur each map alike.
    """
    with native_convolution():
        ref_masks, ref_merged = fame_per_clip(clips, perm)
        masks, merged = fame_batched(clips, perm)
    if not (torch.equal(ref_masks, masks) and torch.equal(ref_merged, merged)):
        raise AssertionError(
            'The batched FAME op and the per-clip reference disagree on '
            f'{int((ref_masks != masks).sum())} mask pixels')
    return dict(outputs_equal=True, clips=int(clips.shape[0]))


# --------------------------------------------------------------------------
# Memory


def cpu_step_peak(fn: Callable[[], object]) -> int:
    """Peak bytes held by torch's CPU allocator during ``fn`` above its start.

    ``torch.profiler`` with ``profile_memory=True`` records every allocation
    and free of the CPU allocator (frees of blocks allocated before the
    profile count as zero); their running sum in time order is the memory
    the call holds above its starting state, and its maximum the peak.
    """
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(
            activities=activities, profile_memory=True) as prof:
        fn()
    events = [
        event for event in prof.profiler.kineto_results.events()
        if event.name() == '[memory]'
        and event.device_type() == torch.autograd.DeviceType.CPU
    ]
    events.sort(key=lambda event: event.start_ns())
    held = peak = 0
    for event in events:
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def state_bytes(model: nn.Module, optim_wrapper: object) -> int:
    """Bytes of the model's parameters and buffers and the optimizer state."""
    tensors = list(model.state_dict(keep_vars=True).values())
    for state in optim_wrapper.optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, Tensor)]
    storages = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def measure_memory(step: Callable[[], object], model: nn.Module,
                   optim_wrapper: object, device: torch.device) -> dict:
    """Resident state and step peak of one training step."""
    if device.type == 'cuda':
        synchronize(device)
        resident = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - resident
    else:
        resident = state_bytes(model, optim_wrapper)
        peak = cpu_step_peak(step)
    return dict(
        resident_bytes=resident,
        step_peak_bytes=peak,
        total_peak_bytes=resident + peak)


# --------------------------------------------------------------------------
# Audit of the per-step path on the meta device


def _caller() -> str:
    """The innermost stack frame outside torch and this file."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace(os.sep, '/')
        if '/torch/' in path or path.endswith('tools/benchmark.py'):
            continue
        for marker in ('site-packages/', REPO_ROOT.replace(os.sep, '/') + '/'):
            if marker in path:
                path = path.split(marker, 1)[1]
        return f'{path}:{frame.lineno} ({frame.name})'
    return '?'


class StepAudit(TorchDispatchMode):
    """Count the ops of a code path and find its host reads and copies.

    The data lives on the ``meta`` device, the stand-in of an accelerator;
    tensors on the CPU are host tensors (e.g. kornia's random parameters).
    A host read of a meta scalar (``.item()``, ``if tensor``) is recorded
    and answered with a stand-in value (True, 1), so that the rest of the
    path is audited too; other host reads (``nonzero``, boolean indexing)
    are recorded and then fail. A copy from the device to the host is
    answered with ones; a blocking one is a host read, a non-blocking one
    (read later, once the device is done) a device op.
    """

    def __init__(self) -> None:
        super().__init__()
        self.device_ops = 0
        self.host_ops = 0
        self.copies: Dict[str, dict] = {}
        self.host_reads: List[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [
            t for t in tree_flatten((args, kwargs))[0]
            if isinstance(t, Tensor)
        ]
        on_device = any(t.device.type == 'meta' for t in tensors)
        name = func.name()
        boolean_index = name.startswith('aten::index') and any(
            t.dtype == torch.bool for t in tensors[1:])
        if on_device and (name in HOST_READ_OPS or boolean_index):
            self.host_reads.append(f'{name} at {_caller()}')
            if name == 'aten::_local_scalar_dense':
                self.device_ops += 1
                dtype = args[0].dtype
                return True if dtype == torch.bool else (
                    1.0 if dtype.is_floating_point else 1)
        if on_device and name.split('.')[0] in FUSED_OPTIMIZER_OPS:
            self.device_ops += 1
            return None
        if on_device and self._is_device_to_host(name, args, kwargs):
            return self._device_to_host(name, args, kwargs)
        out = func(*args, **kwargs)
        if name in COPY_OPS and self._is_host_to_device(name, args, out):
            non_blocking = bool(
                kwargs.get('non_blocking', False)
                or (name == 'aten::copy_' and len(args) > 2 and args[2]))
            entry = self.copies.setdefault(
                f'{name} at {_caller()}',
                dict(count=0, non_blocking=non_blocking))
            entry['count'] += 1
        elif on_device:
            self.device_ops += 1
        else:
            self.host_ops += 1
        return out

    @staticmethod
    def _is_device_to_host(name: str, args: tuple, kwargs: dict) -> bool:
        """Whether an op copies (meta) device data to the host."""
        if name == 'aten::copy_':
            return (args[0].device.type == 'cpu'
                    and args[1].device.type == 'meta')
        if name == 'aten::_to_copy':
            device = kwargs.get('device')
            return device is not None and torch.device(device).type == 'cpu'
        return False

    def _device_to_host(self, name: str, args: tuple, kwargs: dict) -> Tensor:
        """Answer a copy of meta data to the host with ones."""
        non_blocking = bool(
            kwargs.get('non_blocking', False)
            or (name == 'aten::copy_' and len(args) > 2 and args[2]))
        if non_blocking:
            self.device_ops += 1
        else:
            self.host_reads.append(f'{name} (blocking, to the host) at '
                                   f'{_caller()}')
        if name == 'aten::copy_':
            return args[0].fill_(1)
        return torch.ones(
            args[0].shape, dtype=kwargs.get('dtype') or args[0].dtype)

    @staticmethod
    def _is_host_to_device(name: str, args: tuple, out: object) -> bool:
        """Whether an op copies host data to the (meta) device."""
        if name == 'aten::copy_':
            return (args[0].device.type == 'meta'
                    and args[1].device.type == 'cpu')
        if name == 'aten::lift_fresh':
            return args[0].device.type == 'meta'
        return (args[0].device.type == 'cpu' and isinstance(out, Tensor)
                and out.device.type == 'meta')


@contextlib.contextmanager
def meta_autocast() -> Iterator[None]:
    """Make ``torch.autocast`` on the meta device a no-op inside.

    Autocast has no meta backend (it raises); the code audited turns it off
    around its float32 parts, which on meta has nothing to turn off.
    """
    original = torch.autocast

    def autocast(device_type: str, *args, **kwargs):
        if device_type == 'meta':
            return contextlib.nullcontext()
        return original(device_type, *args, **kwargs)

    torch.autocast = autocast
    try:
        yield
    finally:
        torch.autocast = original


def fake_two_view_batch(settings: Settings, num_videos: int) -> dict:
    """Host uint8 clips and data samples as the two-view dataloader gives."""
    shape = (1, 3, settings.clip_len, settings.crop_size, settings.crop_size)
    return two_view_collate()([[
        dict(
            inputs=torch.zeros(shape, dtype=torch.uint8),
            data_samples=ActionDataSample()) for _ in range(2)
    ] for _ in range(num_videos)])


def audit_stages(model: nn.Module, optim_wrapper: object, settings: Settings,
                 num_videos: int) -> Dict[str, Callable[[], object]]:
    """The per-step path of ``model`` (on meta), stage by stage."""
    preprocessor = model.data_preprocessor
    clip = (3, settings.clip_len, settings.crop_size, settings.crop_size)
    meta = torch.device('meta')
    batch = fake_two_view_batch(settings, num_videos)
    state = {}

    def preprocess():
        state['data'] = preprocessor(batch, training=True)

    def loss():
        state['loss'] = model(**state['data'], mode='loss')

    def update():  # backward, SGD step, zero_grad
        optim_wrapper.update_params(state['loss']['loss_contrast'])

    def shuffle_bn():
        return batch_unshuffle_ddp(
            *batch_shuffle_ddp(torch.empty(num_videos, *clip, device=meta)))

    return dict(
        preprocess=preprocess,
        fame=lambda: preprocessor.fame.merge(
            torch.empty(num_videos, *clip, device=meta)),
        colour_augment=lambda: preprocessor.colour_augment(
            torch.empty(2 * num_videos, *clip, device=meta)),
        shuffle_bn=shuffle_bn,
        enqueue=lambda: model.head.enqueue(
            torch.empty(
                2 * num_videos, model.head.queue.shape[1], device=meta)),
        loss=loss,
        update=update)


def run_audit(moco_cfg: dict, settings: Settings, progress: Progress) -> dict:
    """Op counts, host reads and host-to-device copies of each stage."""
    with torch.device('meta'):
        model = MODELS.build(copy.deepcopy(moco_cfg))
    model = model.to('meta').train()
    optim_wrapper = build_optim_wrapper(
        model,
        Config.fromfile(SCHEDULE_CONFIG).optim_wrapper.to_dict())
    # PyTorch refuses meta parameters in a fused optimizer (at its first
    # step, once); the fused kernel itself is answered by StepAudit.
    optim_wrapper.optimizer._need_device_dtype_check_for_fused = False
    batches = (settings.batch_size, 2 * settings.batch_size)
    stages: Dict[str, dict] = {}
    # A first untimed pass takes the one-off branches (the EMA's first
    # update copies instead of averaging).
    for run, num_videos in enumerate((batches[0], ) + batches):
        stages_of_run = audit_stages(model, optim_wrapper, settings,
                                     num_videos)
        for name, fn in stages_of_run.items():
            audit = StepAudit()
            error = None
            try:
                with meta_autocast(), audit:
                    fn()
            except Exception as exc:  # a host read of a meta tensor fails
                error = f'{type(exc).__name__}: {exc}'.splitlines()[0]
            if run == 0:
                continue
            stage = stages.setdefault(
                name,
                dict(
                    device_ops={},
                    host_ops={},
                    host_to_device_copies={},
                    host_reads=[],
                    errors=[]))
            stage['device_ops'][str(num_videos)] = audit.device_ops
            stage['host_ops'][str(num_videos)] = audit.host_ops
            stage['host_to_device_copies'][str(num_videos)] = audit.copies
            stage['host_reads'] += [
                r for r in audit.host_reads if r not in stage['host_reads']
            ]
            if error is not None:
                stage['errors'].append(error)
        progress.update(f'audit on meta, batch {num_videos}')
    for stage in stages.values():
        stage['batch_independent'] = (
            len(set(stage['device_ops'].values())) == 1
            and len(set(stage['host_ops'].values())) == 1)
        stage['blocking_copies'] = sorted({
            origin
            for copies in stage['host_to_device_copies'].values()
            for origin, copy_info in copies.items()
            if not copy_info['non_blocking']
            and not origin.endswith(f'({KORNIA_NON_BLOCKING})')
        })
    host_reads = sorted(
        {read
         for stage in stages.values()
         for read in stage['host_reads']})
    blocking = sorted({
        origin
        for stage in stages.values()
        for origin in stage['blocking_copies']
    })
    return dict(
        device='meta',
        batches=list(batches),
        stages=stages,
        host_reads=host_reads,
        blocking_copies=blocking,
        no_host_reads=not host_reads
        and all(not s['errors'] for s in stages.values()),
        no_blocking_copies=not blocking,
        no_loops_over_clips=all(s['batch_independent']
                                for s in stages.values()))


# --------------------------------------------------------------------------
# Summary


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict:
    """Least-squares ``y = fixed + slope * x``, r^2 and worst residual."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x)**2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    fixed = mean_y - slope * mean_x
    fitted = [fixed + slope * x for x in xs]
    ss_res = sum((y - f)**2 for y, f in zip(ys, fitted))
    ss_tot = sum((y - mean_y)**2 for y in ys)
    return dict(
        fixed_s=fixed,
        per_video_s=slope,
        r2=1 - ss_res / ss_tot if ss_tot > 0 else 1.0,
        max_relative_residual=max(abs(y - f) / y for y, f in zip(ys, fitted)))


def format_bytes(num: float) -> str:
    """Bytes in MiB or GiB."""
    if abs(num) >= 2**30:
        return f'{num / 2**30:.2f} GiB'
    return f'{num / 2**20:.1f} MiB'


def verdict(ok: Optional[bool]) -> str:
    """Table cell of a target check."""
    return '' if ok is None else ('yes' if ok else 'NO')


def table_rows(results: dict) -> List[Tuple[str, str, str, str]]:
    """(measurement, value, target, met) rows of the printed table."""
    fame, op = results['fame_fraction'], results['fame_op']
    data, step = results['data_pipeline'], results['step_cost']
    memory, scaling = results['memory'], results['scaling']
    audit = results['audit']
    rows = [
        ('1. FAME mask+merge / pretraining step',
         f"{fame['fraction'] * 100:.2f} % "
         f"({fame['fame_s'] * 1e3:.1f} ms / {fame['pretrain_step_s']:.2f} s)",
         f"<= {fame['target'] * 100:.0f} %", verdict(fame['meets_target'])),
        ('2. FAME per-clip loop / batched op',
         f"{op['per_clip_over_batched']:.2f} x "
         f"({op['per_clip_s'] * 1e3:.1f} / {op['batched_s'] * 1e3:.1f} ms)",
         'outputs equal', verdict(op['outputs_equal'])),
        ('   FAME batched op / one elementwise pass',
         f"{op['batched_over_floor']:.1f} x "
         f"({op['batched_s'] * 1e3:.1f} / {op['floor_s'] * 1e3:.2f} ms)", '',
         ''),
        ('3. two-view / one-view cost per video',
         f"{data['two_view_cost_per_video']:.2f} x "
         f"({data['two_view_clips_per_s']:.1f} vs "
         f"{data['one_view_clips_per_s']:.1f} clips/s, "
         f"{data['workers']} workers)", f"<= {data['target']}",
         verdict(data['meets_target'])),
        ('   the same in process, video by video',
         f"{data['in_process']['two_view_cost_per_video']:.2f} x "
         f"({data['in_process']['two_view_s_per_video'] * 1e3:.1f} vs "
         f"{data['in_process']['one_view_s_per_video'] * 1e3:.1f} ms)",
         f"<= {data['target']}", verdict(data['in_process']['meets_target'])),
        ('4. pretraining / supervised step', f"{step['ratio']:.2f} x "
         f"({step['pretrain_step_s']:.2f} / "
         f"{step['supervised_step_s']:.2f} s)", f"floor {STEP_FLOOR:.2f}", ''),
        ('   ratio / floor 8/3', f"{step['ratio_over_floor']:.3f}",
         f"<= {step['target_ratio_over_floor']}",
         verdict(step['meets_target'])),
        ('   ratio / measured floor',
         f"{step['ratio_over_measured_floor']:.3f} "
         f"(floor {step['floor_measured']:.2f})", '', ''),
        ('5. peak memory, pretraining / supervised',
         f"{memory['total_ratio']:.2f} x "
         f"({format_bytes(memory['pretrain']['total_peak_bytes'])} / "
         f"{format_bytes(memory['supervised']['total_peak_bytes'])})", '', ''),
        ('   step peak above resident state',
         f"{memory['step_peak_ratio']:.2f} x "
         f"({format_bytes(memory['pretrain']['step_peak_bytes'])} / "
         f"{format_bytes(memory['supervised']['step_peak_bytes'])})", '', ''),
    ]
    for batch, seconds, rel in zip(scaling['batches'], scaling['step_s'],
                                   scaling['per_video_relative']):
        rows.append((f'6. pretraining step, batch {batch}',
                     f'{seconds:.3f} s ({rel:.2f} x per video)', '', ''))
    fit = scaling['fit']
    rows.append(
        ('   linear fit', f"{fit['fixed_s']:.3f} s + "
         f"{fit['per_video_s']:.3f} s/video, r2 {fit['r2']:.4f}", '', ''))
    rows.append(('7. audit (meta): host reads of device values',
                 str(len(audit['host_reads'])), '', ''))
    rows.append(('   blocking host-to-device copies',
                 str(len(audit['blocking_copies'])), '0',
                 verdict(audit['no_blocking_copies'])))
    independent = [
        name for name, stage in audit['stages'].items()
        if stage['batch_independent']
    ]
    rows.append(('   stages whose op count is batch-independent',
                 f"{len(independent)} of {len(audit['stages'])}", 'all',
                 verdict(audit['no_loops_over_clips'])))
    return rows


def print_table(results: dict) -> None:
    """Print the results as a table, then the audit's findings."""
    rows = [('measurement', 'value', 'target', 'met')] + table_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        print('  '.join(cell.ljust(width)
                        for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print('  '.join('-' * width for width in widths))
    audit = results['audit']
    for title, findings in ((
            'Host reads of device values (a GPU synchronisation each)',
            audit['host_reads']), ('Blocking host-to-device copies',
                                   audit['blocking_copies']),
                            ('Stages whose op count grows with the batch', [
                                name
                                for name, stage in audit['stages'].items()
                                if not stage['batch_independent']
                            ])):
        if findings:
            print(f'\n{title}:')
            for finding in findings:
                print(f'  {finding}')


# --------------------------------------------------------------------------
# Main


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments. Defaults to
            ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Measure the cost of MoCo + FAME pretraining steps')
    parser.add_argument(
        '--device',
        default='cpu',
        choices=['cpu', 'cuda'],
        help='device of the model steps and the FAME op')
    parser.add_argument(
        '--out',
        default='work_dirs/benchmark',
        help='folder of benchmark.json')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='tiny shapes and one repeat: a smoke test of a few seconds')
    parser.add_argument(
        '--data-root',
        help='a dataset of tools/data/make_motion_dataset.py to read '
        '(default: generate one in a temporary folder)')
    parser.add_argument(
        '--workers',
        type=int,
        help='dataloader workers of both pipelines (default: the shipped '
        'config\'s, at most the number of CPUs)')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch intra-op threads (default: torch\'s, the number of '
        'cores); on a machine shared with other jobs fewer threads may be '
        'faster')
    parser.add_argument(
        '--repeats',
        type=int,
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
        if args.repeats < 1:
            raise ValueError(f'--repeats must be >= 1, got {args.repeats}')
        settings = replace(settings, repeats=args.repeats)
    shipped_workers = Config.fromfile(DATA_CONFIG).train_dataloader.num_workers
    workers = args.workers
    if workers is None:
        workers = min(shipped_workers, os.cpu_count() or 1)
    if workers < 0:
        raise ValueError(f'--workers must be >= 0, got {workers}')
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f'--threads must be >= 1, got {args.threads}')
        torch.set_num_threads(args.threads)
    init_default_scope('mmaction')
    # Keep the table readable: mmaction's loaders warn about FileClient.
    MMLogger.get_current_instance().setLevel(logging.ERROR)

    info = machine_info(device)
    batch = settings.batch_size
    batches = sorted(set(settings.scaling_batches) | {batch})
    step_cases = len(batches) + 5
    progress = Progress(2 * settings.data_repeats + 5 +
                        (settings.warmup + settings.repeats) * step_cases +
                        (settings.warmup + settings.op_repeats) * 3)

    root = prepare_dataset(args.data_root, settings.dataset, tmp_dir)
    data, data_times = measure_data(settings, root, workers,
                                    device.type == 'cuda', progress)
    two_view, one_view = first_batches(settings, root, max(batches))

    moco_cfg, supervised_cfg = model_configs(settings)
    torch.manual_seed(0)
    moco, moco_optim = build_model(moco_cfg, device)
    supervised, supervised_optim = build_model(supervised_cfg, device)
    preprocessor = moco.data_preprocessor

    # View 1 and view 2 of the batch in [0, 1], as FAME sees them.
    clips = torch.stack(list(sub_batch(two_view,
                                       2 * batch)['inputs'])).to(device)
    views = clips.view(batch, 2, *clips.shape[2:]).float().div_(255)
    view1, view2 = views.unbind(1)
    both_views = torch.cat([view1, view2])
    with torch.no_grad():
        key_input = preprocessor(
            sub_batch(two_view, 2 * batch), training=True)['inputs'][1]

    last_log: dict = {}

    def pretrain_step(num_videos: int) -> Callable[[], object]:
        data_batch = sub_batch(two_view, 2 * num_videos)

        def step():
            last_log.update(moco.train_step(data_batch, moco_optim))

        return step

    supervised_batch = sub_batch(one_view, batch)
    cases = {f'pretrain_step_b{b}': pretrain_step(b) for b in batches}
    cases.update(
        supervised_step=lambda: supervised.train_step(supervised_batch,
                                                      supervised_optim),
        key_forward=lambda: moco.encode_key(key_input),
        fame=lambda: preprocessor.fame.merge(view1),
        colour_augment=lambda: preprocessor.colour_augment(both_views),
        preprocess=lambda: preprocessor(
            sub_batch(two_view, 2 * batch), training=True))
    times = interleaved(cases, settings.warmup, settings.repeats, device,
                        progress)
    finite = all(math.isfinite(float(v.detach())) for v in last_log.values())

    # The FAME op: batched, per clip and its floor. Half a grey level of
    # noise makes exact ties in the motion maps (static backgrounds) unlikely,
    # so that the equality check does not depend on how sorts break ties.
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(view1.shape, generator=generator).to(device)
    op_input = (view1 + (noise - 0.5) / 255).clamp_(0, 1)
    perm = torch.randperm(batch, generator=generator).to(device)
    reference = check_fame_reference(op_input, perm)
    op_times = interleaved(
        dict(
            fame_batched=lambda: fame_batched(op_input, perm),
            fame_per_clip=lambda: fame_per_clip(op_input, perm),
            elementwise_pass=lambda: op_input.mul(1.0)), settings.warmup,
        settings.op_repeats, device, progress)
    times.update(op_times)

    memory = dict(
        method=('torch.cuda.max_memory_allocated' if device.type == 'cuda' else
                'torch.profiler CPU allocator events'),
        pretrain=measure_memory(
            pretrain_step(batch), moco, moco_optim, device),
        supervised=measure_memory(cases['supervised_step'], supervised,
                                  supervised_optim, device))
    progress.update('memory of both steps')
    memory.update(
        total_ratio=memory['pretrain']['total_peak_bytes'] /
        memory['supervised']['total_peak_bytes'],
        step_peak_ratio=memory['pretrain']['step_peak_bytes'] /
        memory['supervised']['step_peak_bytes'])

    audit = run_audit(moco_cfg, settings, progress)

    step_key = f'pretrain_step_b{batch}'
    ratio = paired_ratio(times[step_key], times['supervised_step'])
    floor_measured = 2 + 2 * paired_ratio(times['key_forward'],
                                          times['supervised_step'])
    fraction = paired_ratio(times['fame'], times[step_key])
    step_s = [median(times[f'pretrain_step_b{b}']) for b in batches]
    per_video = [s / b for s, b in zip(step_s, batches)]
    results = dict(
        fame_fraction=dict(
            fame_s=median(times['fame']),
            pretrain_step_s=median(times[step_key]),
            fraction=fraction,
            target=TARGETS['fame_fraction'],
            meets_target=fraction <= TARGETS['fame_fraction']),
        fame_op=dict(
            batched_s=median(times['fame_batched']),
            per_clip_s=median(times['fame_per_clip']),
            floor_s=median(times['elementwise_pass']),
            per_clip_over_batched=paired_ratio(times['fame_per_clip'],
                                               times['fame_batched']),
            batched_over_floor=paired_ratio(times['fame_batched'],
                                            times['elementwise_pass']),
            **reference),
        data_pipeline=data,
        step_cost=dict(
            pretrain_step_s=median(times[step_key]),
            supervised_step_s=median(times['supervised_step']),
            key_forward_s=median(times['key_forward']),
            preprocess_s=median(times['preprocess']),
            colour_augment_s=median(times['colour_augment']),
            ratio=ratio,
            floor=STEP_FLOOR,
            ratio_over_floor=ratio / STEP_FLOOR,
            floor_measured=floor_measured,
            ratio_over_measured_floor=ratio / floor_measured,
            target_ratio_over_floor=TARGETS['step_ratio_over_floor'],
            meets_target=ratio / STEP_FLOOR
            <= TARGETS['step_ratio_over_floor'],
            losses_finite=finite),
        memory=memory,
        scaling=dict(
            batches=batches,
            step_s=step_s,
            per_video_relative=[p / per_video[-1] for p in per_video],
            fit=linear_fit(batches, step_s)),
        audit=audit)
    info['load_average_end'] = load_average()
    settings_dict = asdict(settings)
    settings_dict.update(
        scaling_batches=batches,
        workers=workers,
        data_root=args.data_root or 'generated in a temporary folder')
    times.update(data_times)
    return dict(
        format=FORMAT,
        command=' '.join(['python', 'tools/benchmark.py'] + args.argv),
        created=datetime.datetime.now().astimezone().isoformat(
            timespec='seconds'),
        quick=args.quick,
        machine=info,
        settings=settings_dict,
        results=results,
        timings=times)


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
    machine = document['machine']
    print(f"\n{machine['device_name']} ({machine['device']}), "
          f"{machine['cpu_count']} CPUs, torch {machine['torch']}, "
          f"load {machine['load_average_start']} -> "
          f"{machine['load_average_end']}")
    print_table(document['results'])
    print(f'\nWritten {path}')
    return document


if __name__ == '__main__':
    main()
