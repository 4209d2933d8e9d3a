# Copyright (c) OpenMMLab. All rights reserved.
import json

import pytest
from mmaction.registry import DATASETS

from tests.tool_loader import load_tool
from tools.data.motion_dataset import generate

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
        str(work_dir), '--seeds', '0', '--true-masks', '--cfg-options',
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
    for method in ('moco', 'fame', 'fame_true_masks', 'random_init',
                   'supervised'):
        # one test_unseen_bg video a class is too few to cross-validate
        assert saved[method]['linear_cv'] == dict(
            test_unseen_bg=None, per_seed=dict(test_unseen_bg=[None]))
        for protocol in ('linear', 'knn'):
            scores = saved[method][protocol]
            for name in TEST_LISTS:
                assert scores['per_seed'][name] == [scores[name]]
                # 8 test videos: accuracy is a multiple of 12.5 %
                assert scores[name] % 12.5 == 0 and 0 <= scores[name] <= 100
        # instance retrieval among the 8 test_unseen_bg videos, with plain
        # and with merged queries
        for task in ('retrieval', 'retrieval_merged'):
            retrieval = saved[method][task]
            assert retrieval['per_seed'] == [retrieval['mean']]
            assert retrieval['mean'] % 12.5 == 0
    control = saved['control']
    assert control['p'] == 0.01 and isinstance(control['informative'], bool)
    for method, task in (('moco', 'retrieval'), ('fame', 'retrieval_merged'),
                         ('fame_true_masks', 'retrieval_merged')):
        assert len(control[method]['per_seed']) == 1
        assert control[method]['task'] == task
    margin = saved['fame_minus_moco']['linear']['test_unseen_bg']
    assert margin['mean'] == (
        saved['fame']['linear']['test_unseen_bg'] -
        saved['moco']['linear']['test_unseen_bg'])
    assert saved['settings']['seeds'] == [0]
    assert saved['settings']['counts']['pretrain'] == 16
    # the pretraining runs wrote their checkpoints
    for method in ('moco', 'fame', 'fame_true_masks', 'supervised'):
        assert (work_dir / method / 'seed0' / 'epoch_1.pth').is_file()
    assert 'linear_cv' not in saved['fame_minus_moco']


def test_mask_quality(run):
    quality = run[3]['mask_quality']
    # scored at the FAME config's beta
    assert quality['videos'] == 16 and quality['beta'] == 0.5
    for hue_mode in ('turns', 'radians'):
        q = quality[hue_mode]
        assert q['iou_chance'] < q['iou'] <= q['iou_bound'] + 1e-9
        assert 0 < q['recall'] <= 100


def test_mask_quality_of_the_adaptive_mask(tool, run):
    root, _, work_dir, _ = run
    cfg = tool.load_config('fame', root, work_dir, 0, None)
    fixed = tool.mask_quality(root, cfg, 0.5)
    auto = tool.mask_quality(root, cfg, 'auto')
    assert auto['beta'] == 'auto' and auto['videos'] == 16
    for hue_mode in ('turns', 'radians'):
        # Masks fitted per clip: smaller than half the frame where the
        # sprites are, so a higher bound and a different score.
        assert auto[hue_mode]['iou_bound'] > fixed[hue_mode]['iou_bound']
        assert auto[hue_mode]['iou'] != fixed[hue_mode]['iou']
    assert tool.parse_args(['d', '--work-dir', 'w', '--beta',
                            'auto']).beta == 'auto'


def test_table_and_chart(run):
    work_dir = run[2]
    table = (work_dir / 'results.md').read_text()
    for row in ('| MoCo | linear |', '| MoCo + FAME | knn |',
                '| supervised (reference) | linear |',
                '| MoCo + FAME, true masks (reference) | knn |', '| turns |',
                '| radians |',
                '| plain query | merged query | own task | passed |'):
        assert row in table
    # the margin is reported only when the positive control passed
    informative = run[3]['control']['informative']
    assert ('| FAME - MoCo | linear |' in table) == informative
    assert table.startswith(
        'Positive control passed' if informative else '**Uninformative run')
    assert 'python tools/bias_benchmark.py' in table
    assert (work_dir / 'results.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_true_masks_reach_the_training_batches(tool, run):
    root, _, work_dir, _ = run
    cfg = tool.load_config('fame_true_masks', root, work_dir, 0, None)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert 'LoadForegroundMask' in repr(dataset.pipeline)
    for view in dataset[0]:
        mask = view['data_samples'].fame_mask
        assert mask.shape == (cfg.crop_size, cfg.crop_size)
        assert mask.dtype == bool and 0 < mask.mean() < 1
    # the other configs are left as they are
    assert 'LoadForegroundMask' not in str(
        tool.load_config('fame', root, work_dir, 0, None).train_pipeline)


def test_pretraining_runs_no_knn_monitor(tool, run):
    root, _, work_dir, _ = run
    for method in tool.CONFIGS:
        cfg = tool.load_config(method, root, work_dir, 0,
                               {'train_cfg.max_epochs': 3})
        assert cfg.train_cfg.val_begin == 4
    # the pretrainings of the run logged no validation
    logs = list(work_dir.glob('moco/seed*/*/*.log'))
    assert logs and not any('Epoch(val)' in log.read_text() for log in logs)


@pytest.mark.parametrize('epochs, warmup', [(None, 4), (20, 2), (80, 8)])
def test_epochs_keep_the_schedule_shape(tool, run, epochs, warmup):
    root, _, work_dir, _ = run
    for method in tool.CONFIGS:
        cfg = tool.load_config(method, root, work_dir, 0, None, epochs)
        total = epochs or 40
        assert cfg.train_cfg.max_epochs == total
        first, decay = cfg.param_scheduler
        assert (first.begin, first.end) == (0, warmup)
        assert (decay.begin, decay.end, decay.T_max) == (warmup, total,
                                                         total - warmup)
        # --cfg-options are merged after --epochs
        cfg = tool.load_config(method, root, work_dir, 0,
                               {'param_scheduler.0.end': 3}, epochs)
        assert cfg.param_scheduler[0].end == 3
    with pytest.raises(SystemExit):
        tool.parse_args(['d', '--work-dir', 'w', '--epochs', '1'])
    # the benchmark trains twice the configs' 40 epochs unless told
    assert tool.parse_args(['d', '--work-dir', 'w']).epochs == 80


@pytest.mark.parametrize('k', ['0', '-3'])
def test_k_is_checked_before_any_training(tool, k, capsys):
    # Refused by argparse, not after the pretrainings.
    with pytest.raises(SystemExit):
        tool.parse_args(['d', '--work-dir', 'w', '--k', k])
    assert f'must be >= 1, got {k}' in capsys.readouterr().err


def scores(value, cv, retrieval, merged=0.):
    """Hand-made read-out scores of one run."""
    per_list = {name: value for name in TEST_LISTS}
    return dict(
        linear=per_list,
        knn=per_list,
        linear_cv=cv,
        retrieval=retrieval,
        retrieval_merged=merged)


def test_positive_control(tool, run, tmp_path):
    # Each pretraining is judged on its own pretext task against the
    # untrained backbone in the same task: MoCo with plain queries (where
    # FAME would fail), FAME with merged ones (where MoCo would fail). Seed
    # 1: FAME's merged retrieval is 9.5 points above the untrained one's.
    per_seed = dict(
        moco=[scores(10, None, 40, 5),
              scores(20, None, 41, 5)],
        fame=[scores(30, None, 20, 35),
              scores(40, None, 20, 30.5)],
        random_init=[scores(0, None, 25, 10),
                     scores(0, None, 21, 21)],
        supervised=[scores(90, None, 90),
                    scores(90, None, 90)])
    results = tool.summarise(per_seed, 200)
    control = results['control']
    # Hits among 200 queries against the untrained backbone's, one-sided
    # Fisher exact test at p < 0.01: FAME's seed 1 (61 against 42 hits)
    # has p = 0.0196.
    assert control['test'] == 'one-sided Fisher exact' and control['p'] == 0.01
    assert control['moco']['task'] == 'retrieval'
    assert control['moco']['per_seed'] == [True, True]
    assert control['moco']['passed']
    assert control['fame']['task'] == 'retrieval_merged'
    assert control['fame']['per_seed'] == [True, False]
    assert not control['fame']['passed'] and not control['informative']
    seed1 = control['fame']['seeds'][1]
    assert (seed1['hits'], seed1['untrained_hits'],
            seed1['queries']) == (61, 42, 200)
    assert seed1['p'] == pytest.approx(0.019633, abs=1e-6)
    # By hand: 3 of 4 hits against 0 of 4, P(X >= 3) of the hypergeometric
    # (8 queries, 3 hits, 4 drawn) = C(3, 3) C(5, 1) / C(8, 4) = 5 / 70.
    assert tool.positive_control(
        dict(
            moco=dict(retrieval=dict(per_seed=[75.])),
            random_init=dict(retrieval=dict(per_seed=[0.]))),
        4)['moco']['seeds'][0]['p'] == pytest.approx(5 / 70)
    assert results['fame']['retrieval_merged'] == dict(
        mean=32.75, per_seed=[35, 30.5])
    assert results['fame']['retrieval'] == dict(mean=20., per_seed=[20, 20])
    results.update(
        {key: run[3][key]
         for key in ('chance', 'mask_quality', 'settings')})
    results['settings'] = dict(results['settings'], seeds=[0, 1])
    tool.write_markdown(results, tmp_path / 'results.md')
    table = (tmp_path / 'results.md').read_text()
    assert table.startswith('**Uninformative run: the positive control '
                            'failed for MoCo + FAME (seeds [1]).**')
    assert ('| MoCo + FAME | 20.0 ± 0.0 | 32.8 ± 3.2 | merged | yes no | '
            '70 / 20, p 1e-09; 61 / 42, p 0.02 |' in table)
    assert ('| MoCo | 40.5 ± 0.7 | 5.0 ± 0.0 | plain | yes yes | '
            '80 / 50, p 0.00095; 82 / 42, p 1.1e-05 |' in table)
    assert ('| random init (reference) | 23.0 ± 2.8 | 15.5 ± 7.8 | - | - | - '
            '|' in table)
    assert '| FAME - MoCo |' not in table
    # a reference does not count; the run passes once FAME's seed 1 does
    per_seed['fame'][1] = scores(40, None, 20, 35)
    per_seed['supervised'] = [scores(90, None, 0), scores(90, None, 0)]
    assert tool.summarise(per_seed, 200)['control']['informative']
    # MoCo is judged on plain queries only
    per_seed['moco'][1] = scores(20, None, 30, 90)
    assert not tool.summarise(per_seed, 200)['control']['moco']['passed']


def test_cross_validated_probe_table(tool, run, tmp_path):

    per_seed = dict(
        moco=[scores(10, 12.5, 50), scores(20, 15.0, 50)],
        fame=[scores(30, 25.0, 50, 50),
              scores(40, 32.5, 50, 50)],
        random_init=[scores(0, 10.0, 20),
                     scores(0, 10.0, 20)],
        supervised=[scores(90, 60.0, 90),
                    scores(90, 70.0, 90)])
    results = tool.summarise(per_seed, 200)
    assert results['control']['informative']
    assert results['fame']['linear_cv'] == dict(
        test_unseen_bg=28.75, per_seed=dict(test_unseen_bg=[25.0, 32.5]))
    margin = results['fame_minus_moco']['linear_cv']['test_unseen_bg']
    assert margin['per_seed'] == [12.5, 17.5] and margin['mean'] == 15.0
    results.update(
        {key: run[3][key]
         for key in ('chance', 'mask_quality', 'settings')})
    tool.write_markdown(results, tmp_path / 'results.md')
    table = (tmp_path / 'results.md').read_text()
    assert '| MoCo + FAME | 28.8 ± 5.3 |' in table
    assert '| FAME - MoCo | +15.0 ± 3.5 |' in table
    assert 'true masks' not in table


def test_incomplete_dataset_is_named(tool, tmp_path):
    (tmp_path / 'pretrain.txt').write_text('')
    with pytest.raises(SystemExit, match='probe_train.txt'):
        tool.main([str(tmp_path), '--work-dir', str(tmp_path / 'w')])


def test_missing_test_video_is_named_before_pretraining(tool, tmp_path):
    root = tmp_path / 'data'
    generate(str(root), size='tiny', seed=0, progress=False)
    missing = root / 'videos/test_unseen_bg/00003.mp4'
    missing.unlink()
    with pytest.raises(SystemExit, match=f'1 lists or videos .*{missing}'):
        tool.main([str(root), '--work-dir', str(tmp_path / 'w')])
    assert not (tmp_path / 'w').exists()


def test_adaptive_mask_variant(tool, run, tmp_path):
    root, _, work_dir, _ = run
    assert tool.parse_args(['d', '--work-dir', 'w',
                            '--adaptive-mask']).adaptive_mask
    cfg = tool.load_config('fame_auto', root, work_dir, 0, None)
    assert cfg.model.data_preprocessor.fame.beta == 'auto'
    assert cfg.work_dir == str(work_dir / 'fame_auto' / 'seed0')
    assert tool.load_config('fame', root, work_dir, 0,
                            None).model.data_preprocessor.fame.beta == 0.5
    # Its margin over MoCo is reported beside the fixed beta's, once the
    # control passes for it too.
    per_seed = dict(
        moco=[scores(10, 12.5, 50), scores(20, 15.0, 50)],
        fame=[scores(30, 25.0, 50, 50),
              scores(40, 32.5, 50, 50)],
        fame_auto=[scores(35, 30.0, 50, 50),
                   scores(41, 32.5, 50, 50)],
        random_init=[scores(0, 10.0, 20),
                     scores(0, 10.0, 20)],
        supervised=[scores(90, 60.0, 90),
                    scores(90, 70.0, 90)])
    results = tool.summarise(per_seed, 200)
    margin = results['fame_auto_minus_moco']['linear']['test_unseen_bg']
    assert margin['per_seed'] == [25, 21] and margin['mean'] == 23
    assert results['control']['fame_auto']['passed']
    results.update(
        {key: run[3][key]
         for key in ('chance', 'mask_quality', 'settings')})
    tool.write_markdown(results, tmp_path / 'results.md')
    table = (tmp_path / 'results.md').read_text()
    assert ("| FAME, beta='auto' - MoCo | linear | +23.0 ± 2.8 | "
            '+23.0 ± 2.8 |' in table)
    assert "| FAME, beta='auto' - MoCo | +17.5 ± 0.0 |" in table
    assert '| FAME - MoCo | linear | +20.0 ± 0.0 |' in table
    # Not when its own control fails.
    per_seed['fame_auto'][1] = scores(41, 32.5, 50, 0.5)  # 1 hit vs 0
    results = dict(
        tool.summarise(per_seed, 200),
        **{key: run[3][key]
           for key in ('chance', 'mask_quality', 'settings')})
    tool.write_markdown(results, tmp_path / 'results.md')
    table = (tmp_path / 'results.md').read_text()
    assert "beta='auto' - MoCo" not in table
    assert '| FAME - MoCo | linear |' in table
