# Copyright (c) OpenMMLab. All rights reserved.
"""tools/benchmark.py: the JSON it writes and the helpers behind its figures.

No timing is asserted: timings depend on the machine and its load.
"""
import json
import math
from types import ModuleType

import pytest
import torch

from tests.tool_loader import load_tool


@pytest.fixture(scope='module')
def benchmark() -> ModuleType:
    return load_tool('benchmark')


@pytest.fixture(scope='module')
def document(benchmark, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp('benchmark')
    benchmark.main(['--quick', '--workers', '0', '--out', str(out)])
    with open(out / 'benchmark.json') as f:
        return json.load(f)


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) \
        and value > 0


def test_json_holds_every_measurement(benchmark, document):
    assert document['format'] == benchmark.FORMAT
    assert document['quick'] is True
    assert document['command'].startswith('python tools/benchmark.py --quick')
    for key in ('cpu_model', 'cpu_count', 'torch_threads', 'torch', 'device',
                'device_name', 'load_average_start', 'load_average_end'):
        assert key in document['machine'], key
    assert document['machine']['device'] == 'cpu'
    settings = document['settings']
    assert settings['batch_size'] == benchmark.QUICK.batch_size
    assert settings['workers'] == 0

    results = document['results']
    fame = results['fame_fraction']
    assert positive(fame['fame_s']) and positive(fame['pretrain_step_s'])
    assert 0 < fame['fraction'] < 1
    assert fame['meets_target'] == (fame['fraction'] <= 0.03)

    op = results['fame_op']
    assert op['outputs_equal'] is True
    assert op['clips'] == settings['batch_size']
    for key in ('batched_s', 'per_clip_s', 'floor_s', 'per_clip_over_batched',
                'batched_over_floor'):
        assert positive(op[key]), key

    data = results['data_pipeline']
    for key in ('one_view_clips_per_s', 'two_view_clips_per_s',
                'two_view_cost_per_video'):
        assert positive(data[key]), key
    # A two-view sample is one video: its cost is in clips per second.
    assert data['two_view_cost_per_video'] == pytest.approx(
        2 * data['one_view_clips_per_s'] / data['two_view_clips_per_s'])
    in_process = data['in_process']
    assert in_process['videos'] == settings['data_videos']
    for key in ('one_view_s_per_video', 'two_view_s_per_video',
                'two_view_cost_per_video'):
        assert positive(in_process[key]), key

    step = results['step_cost']
    assert step['floor'] == pytest.approx(8 / 3)
    assert step['ratio'] == pytest.approx(step['pretrain_step_s'] /
                                          step['supervised_step_s'])
    assert step['ratio_over_floor'] == pytest.approx(step['ratio'] /
                                                     step['floor'])
    assert step['floor_measured'] > 2
    assert step['losses_finite'] is True

    memory = results['memory']
    for name in ('pretrain', 'supervised'):
        assert positive(memory[name]['resident_bytes'])
        assert positive(memory[name]['step_peak_bytes'])
        assert memory[name]['total_peak_bytes'] == (
            memory[name]['resident_bytes'] + memory[name]['step_peak_bytes'])
    # The key encoder and the queue alone make the pretraining state larger.
    assert (memory['pretrain']['resident_bytes']
            > memory['supervised']['resident_bytes'])

    scaling = results['scaling']
    assert scaling['batches'] == list(benchmark.QUICK.scaling_batches)
    assert len(scaling['step_s']) == len(scaling['batches'])
    assert scaling['per_video_relative'][-1] == pytest.approx(1)
    assert set(scaling['fit']) == {
        'fixed_s', 'per_video_s', 'r2', 'max_relative_residual'
    }

    audit = results['audit']
    assert set(audit['stages']) == {
        'preprocess', 'fame', 'colour_augment', 'shuffle_bn', 'enqueue',
        'loss', 'update'
    }
    for name, stage in audit['stages'].items():
        assert not stage['errors'], (name, stage['errors'])
        assert list(stage['device_ops']) == [str(b) for b in audit['batches']]
    # FAME, the colour augmentation and the loss run device ops whose
    # number does not depend on the batch: no Python loop over clips.
    for name in ('fame', 'colour_augment', 'loss', 'update'):
        assert audit['stages'][name]['device_ops'][str(
            audit['batches'][0])] > 0
        assert audit['stages'][name]['batch_independent']
    # The clips reach the device with asynchronous copies.
    copies = audit['stages']['preprocess']['host_to_device_copies']
    input_copies = [
        info for origin, info in copies[str(audit['batches'][0])].items()
        if '(cast_data)' in origin
    ]
    assert input_copies and all(info['non_blocking'] for info in input_copies)

    # Every timed case has one value per timed round.
    timings = document['timings']
    assert len(timings['supervised_step']) == settings['repeats']
    assert len(timings['fame_batched']) == settings['op_repeats']


@pytest.mark.parametrize('hue_mode', ['turns', 'radians'])
@pytest.mark.parametrize('seed', [0, 1])
def test_per_clip_reference_equals_batched_op(benchmark, hue_mode, seed):
    gen = torch.Generator().manual_seed(seed)
    clips = torch.rand(5, 3, 6, 40, 48, generator=gen)
    perm = torch.randperm(5, generator=gen)
    with benchmark.native_convolution():
        ref_masks, ref_merged = benchmark.fame_per_clip(
            clips, perm, 0.4, hue_mode)
        masks, merged = benchmark.fame_batched(clips, perm, 0.4, hue_mode)
    assert torch.equal(ref_masks, masks)
    assert torch.equal(ref_merged, merged)
    assert masks.sum().item() == 5 * int(0.4 * 40 * 48)
    # Merging takes the foreground from the clip, the rest from perm's clip.
    m = masks[:, None, None]
    assert torch.equal(merged, torch.where(m, clips, clips[perm]))
    assert benchmark.check_fame_reference(clips, perm) == dict(
        outputs_equal=True, clips=5)


def test_per_clip_reference_detects_a_different_mask(benchmark):
    gen = torch.Generator().manual_seed(0)
    clips = torch.rand(3, 3, 4, 32, 32, generator=gen)
    perm = torch.tensor([2, 0, 1])
    with benchmark.native_convolution():
        ref_masks, _ = benchmark.fame_per_clip(clips, perm, 0.5)
        other, _ = benchmark.fame_batched(clips, perm, 0.4)
    assert not torch.equal(ref_masks, other)


def test_audit_finds_host_reads_copies_and_loops(benchmark):
    meta = torch.device('meta')

    def per_clip_loop(batch):
        return torch.stack([clip * 2 for clip in batch])

    counts = []
    for num in (2, 4):
        batch = torch.empty(num, 3, 4, 4, device=meta)
        with benchmark.StepAudit() as audit:
            per_clip_loop(batch)
        counts.append(audit.device_ops)
    assert counts[1] > counts[0]

    with benchmark.StepAudit() as audit:
        x = torch.empty(4, device=meta)
        if x.sum() > 0:  # a host read: answered with True on meta
            x = x + 1
        torch.zeros(4).to(meta, non_blocking=True)
        torch.zeros(4).to(meta)
    assert len(audit.host_reads) == 1
    assert audit.host_reads[0].startswith('aten::_local_scalar_dense at ')
    assert 'test_benchmark.py' in audit.host_reads[0]
    assert sorted(info['non_blocking']
                  for info in audit.copies.values()) == [False, True]

    # Copies to the host: a blocking one waits for the device, a
    # non-blocking one does not; both are answered with ones.
    with benchmark.StepAudit() as audit:
        x = torch.empty(2, device=meta)
        host = torch.zeros(2)
        host.copy_(x, non_blocking=True)
        blocking = x.cpu()
    assert torch.equal(host, torch.ones(2))
    assert torch.equal(blocking, torch.ones(2))
    assert len(audit.host_reads) == 1
    assert audit.host_reads[0].startswith('aten::_to_copy (blocking')
    # A fused optimizer's kernel (no meta kernel) is one device op.
    param = torch.nn.Parameter(torch.empty(3, device=meta))
    param.grad = torch.empty(3, device=meta)
    sgd = torch.optim.SGD([param], lr=0.1, momentum=0.9, fused=True)
    sgd._need_device_dtype_check_for_fused = False
    with benchmark.StepAudit() as audit:
        sgd.step()
    assert not audit.host_reads and audit.device_ops >= 1


def test_cpu_step_peak_counts_bytes_held(benchmark):
    existing = torch.ones(1_000_000, dtype=torch.uint8)

    def step():
        nonlocal existing
        a = torch.ones(10_000_000, dtype=torch.uint8)
        b = torch.ones(5_000_000, dtype=torch.uint8)
        del a
        c = torch.ones(20_000_000, dtype=torch.uint8)
        del b, c
        existing = None  # freeing older memory does not lower the peak

    assert benchmark.cpu_step_peak(step) == 25_000_000


def test_linear_fit_and_paired_ratio(benchmark):
    fit = benchmark.linear_fit([1, 2, 4, 8], [1.5, 2.0, 3.0, 5.0])
    assert fit['fixed_s'] == pytest.approx(1.0)
    assert fit['per_video_s'] == pytest.approx(0.5)
    assert fit['r2'] == pytest.approx(1.0)
    assert fit['max_relative_residual'] == pytest.approx(0, abs=1e-12)
    # Medians of per-round ratios, not ratios of medians.
    assert benchmark.paired_ratio([2, 4, 9], [1, 1, 3]) == 3
