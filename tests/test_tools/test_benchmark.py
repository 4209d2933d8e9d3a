# Copyright (c) OpenMMLab. All rights reserved.
"""tools/benchmark.py: the JSON it writes and the helpers behind its figures.

No timing is asserted: timings depend on the machine and its load. The FAME
op's correctness is tested in ``tests/test_ops/test_fame.py``, the step's
audit on the meta device in ``tests/test_models/test_step_audit.py``.
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
    assert settings['fame_beta'] == 0.5
    assert settings['fame_compensate_camera'] is False

    results = document['results']
    assert set(results) == {
        'fame_fraction', 'fame_op', 'data_pipeline', 'step_cost', 'memory',
        'scaling'
    }
    fame = results['fame_fraction']
    assert positive(fame['fame_s']) and positive(fame['pretrain_step_s'])
    assert 0 < fame['fraction'] < 1
    assert fame['meets_target'] == (fame['fraction'] <= 0.03)

    op = results['fame_op']
    assert op['clips'] == settings['batch_size']
    for key in ('batched_s', 'floor_s', 'batched_over_floor'):
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

    # Every timed case has one value per timed round.
    timings = document['timings']
    assert len(timings['supervised_step']) == settings['repeats']
    assert len(timings['fame_batched']) == settings['op_repeats']


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


@pytest.mark.parametrize(
    'argv', [['--repeats', '0'], ['--workers', '-1'], ['--threads', '0'],
             ['--beta', 'half']])
def test_parse_args_rejects_counts_out_of_range(benchmark, argv):
    with pytest.raises(SystemExit):
        benchmark.parse_args(argv)
    assert benchmark.parse_args(['--workers', '0']).workers == 0
    assert benchmark.parse_args(['--beta', 'auto']).beta == 'auto'
    assert benchmark.parse_args(['--beta', '0.25']).beta == 0.25
    assert benchmark.parse_args(['--compensate-camera']).compensate_camera
