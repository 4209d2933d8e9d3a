# Copyright (c) OpenMMLab. All rights reserved.
import json
import sys
from pathlib import Path

import pytest

from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'data'))
from make_motion_dataset import generate  # noqa: E402

TEST_LISTS = ('test_iid', 'test_unseen_bg', 'test_static', 'test_bg_only')


@pytest.fixture(scope='module')
def tool():
    return load_tool('bias_benchmark')


@pytest.fixture(scope='module')
def run(tool, tmp_path_factory):
    root = tmp_path_factory.mktemp('motion')
    generate(str(root), size='tiny', seed=0, progress=False)
    stamp = (root / 'pretrain.txt').stat().st_mtime_ns
    work_dir = tmp_path_factory.mktemp('bias')
    results = tool.main([
        str(root), '--work-dir',
        str(work_dir), '--seeds', '0', '--cfg-options',
        'train_cfg.max_epochs=1'
    ])
    return root, stamp, work_dir, results


def test_results_hold_every_metric(run):
    root, stamp, work_dir, results = run
    # an existing dataset is used as it is
    assert (root / 'pretrain.txt').stat().st_mtime_ns == stamp
    saved = json.loads((work_dir / 'results.json').read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved['chance'] == 12.5
    for method in ('moco', 'fame', 'random_init', 'supervised'):
        for protocol in ('linear', 'knn'):
            scores = saved[method][protocol]
            for name in TEST_LISTS:
                assert scores['per_seed'][name] == [scores[name]]
                # 8 test videos: accuracy is a multiple of 12.5 %
                assert scores[name] % 12.5 == 0 and 0 <= scores[name] <= 100
    margin = saved['fame_minus_moco']['linear']['test_unseen_bg']
    assert margin['mean'] == (
        saved['fame']['linear']['test_unseen_bg'] -
        saved['moco']['linear']['test_unseen_bg'])
    assert saved['settings']['seeds'] == [0]
    assert saved['settings']['counts']['pretrain'] == 16
    # the pretraining runs wrote their checkpoints
    for method in ('moco', 'fame', 'supervised'):
        assert (work_dir / method / 'seed0' / 'epoch_1.pth').is_file()


def test_mask_quality(run):
    quality = run[3]['mask_quality']
    # scored at the FAME config's beta
    assert quality['videos'] == 16 and quality['beta'] == 0.25
    for hue_mode in ('turns', 'radians'):
        q = quality[hue_mode]
        assert q['iou_chance'] < q['iou'] <= q['iou_bound'] + 1e-9
        assert 0 < q['recall'] <= 100


def test_table_and_chart(run):
    work_dir = run[2]
    table = (work_dir / 'results.md').read_text()
    for row in ('| MoCo | linear |', '| MoCo + FAME | knn |',
                '| supervised (reference) | linear |',
                '| FAME - MoCo | linear |', '| turns |', '| radians |'):
        assert row in table
    assert 'python tools/bias_benchmark.py' in table
    assert (work_dir / 'results.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_incomplete_dataset_is_named(tool, tmp_path):
    (tmp_path / 'pretrain.txt').write_text('')
    with pytest.raises(FileNotFoundError, match='probe_train.txt'):
        tool.main([str(tmp_path), '--work-dir', str(tmp_path / 'w')])
