# Copyright (c) OpenMMLab. All rights reserved.
"""The transfer configs follow the paper's protocol (docs/algorithm.md)."""
import re
import shutil
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import projects.fame  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
TRANSFER = ROOT / 'configs' / 'transfer'
CONFIGS = sorted(p for p in TRANSFER.glob('*/*.py') if '_base_' not in p.parts)
CLASSIFIERS = [p for p in CONFIGS if 'retrieval' not in p.stem]
RETRIEVAL = [p for p in CONFIGS if 'retrieval' in p.stem]
NUM_CLASSES = dict(ucf101=101, hmdb51=51, diving48=48)
PRETRAIN_MODEL = dict(
    r2plus1d='fame_r2plus1d_r18',
    i3d='fame_i3d_r50',
    slowfast='fame_slowfast_r50')
CROP_SIZE = dict(r2plus1d=112, i3d=224, slowfast=224)
# Kinetics-400 statistics of pretraining, on the 0-255 scale.
MEAN = [0.43216 * 255, 0.394666 * 255, 0.37645 * 255]
STD = [0.22803 * 255, 0.22145 * 255, 0.216989 * 255]
# {algorithm}_{backbone}_{gpus}x{batch}[-linear]-16x2x1-{epochs}e_{dataset}-rgb
NAME = re.compile(r'^(?P<algo>[a-z0-9]+)_fame-pretrained-r\d+_8xb(?P<batch>'
                  r'\d+)(?P<linear>-linear)?-16x2x1-(?P<epochs>\d+)e_'
                  r'(?P<dataset>[a-z0-9]+)-rgb$')


def transforms(pipeline, type_name):
    return [t for t in pipeline if t['type'] == type_name]


def test_every_backbone_has_every_protocol_and_dataset():
    runs = set()
    for path in CLASSIFIERS:
        name = NAME.match(path.stem)
        assert name, path.stem
        runs.add((name['algo'], bool(name['linear']), name['dataset']))
    assert runs == {(algo, linear, dataset)
                    for algo in PRETRAIN_MODEL
                    for linear in (False, True)
                    for dataset in NUM_CLASSES}
    assert len(CLASSIFIERS) == len(runs)


@pytest.mark.parametrize('path', CLASSIFIERS, ids=lambda p: p.stem)
def test_classification_config(path):
    name = NAME.match(path.stem)
    algo, dataset = name['algo'], name['dataset']
    assert path.parent.name == dataset
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.default_scope)

    # The pretraining backbone, key for key.
    pretrain = Config.fromfile(
        str(ROOT / 'configs' / '_base_' / 'models' /
            f'{PRETRAIN_MODEL[algo]}.py'))
    assert cfg.model.backbone == pretrain.model.backbone
    # Written atomically, the work dir claimed for the run.
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.model.data_preprocessor.mean == pytest.approx(MEAN, abs=1e-3)
    assert cfg.model.data_preprocessor.std == pytest.approx(STD, abs=1e-3)
    head = cfg.model.cls_head
    assert head.num_classes == NUM_CLASSES[dataset]
    assert head.average_clips == 'score'
    assert cfg.load_from.startswith(f'work_dirs/fame_{algo}_k400/')

    # 16x2 clips; at test 10 uniformly spaced clips, centre crop.
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    sample, = transforms(train, 'SampleFrames')
    assert (sample.clip_len, sample.frame_interval, sample.num_clips) == \
        (16, 2, 1)
    sample, = transforms(test, 'SampleFrames')
    assert (sample.clip_len, sample.frame_interval, sample.num_clips,
            sample.test_mode) == (16, 2, 10, True)
    crop, = transforms(test, 'CenterCrop')
    assert crop.crop_size == CROP_SIZE[algo]
    for loader in ('train', 'val', 'test'):
        Compose(cfg[f'{loader}_dataloader'].dataset.pipeline)
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'AccMetric'

    # Annotation files of the dataset (and split), as the converters name
    # them; test on the official test split.
    ann_files = {
        loader: cfg[f'{loader}_dataloader'].dataset.ann_file
        for loader in ('train', 'val', 'test')
    }
    if dataset == 'diving48':
        assert ann_files['train'] == \
            'data/diving48/diving48_train_list_videos.txt'
    else:
        assert cfg.split == 1
        assert ann_files['train'] == \
            f'data/{dataset}/{dataset}_train_split_1_videos.txt'
    assert ann_files['val'] == ann_files['test'] == \
        ann_files['train'].replace('_train_', '_val_')
    for loader in ('train', 'val', 'test'):
        assert cfg[f'{loader}_dataloader'].dataset.data_prefix.video == \
            f'data/{dataset}/videos'
        # An unreadable video stops the run, named with its list line.
        assert cfg[f'{loader}_dataloader'].dataset.type == \
            'StrictVideoDataset'

    optimizer = cfg.optim_wrapper.optimizer
    scheduler, = cfg.param_scheduler
    assert (optimizer.type, optimizer.momentum) == ('SGD', 0.9)
    assert cfg.train_cfg.max_epochs == int(name['epochs'])
    assert cfg.train_dataloader.batch_size == int(name['batch'])
    assert cfg.auto_scale_lr.base_batch_size == 8 * int(name['batch'])
    if name['linear']:
        assert cfg.model.type == 'FrozenBackboneRecognizer3D'
        assert head.dropout_ratio == 0
        assert (optimizer.lr, optimizer.weight_decay) == (30, 0)
        assert (scheduler.milestones, cfg.train_cfg.max_epochs) == \
            ([60, 80], 100)
    else:
        assert cfg.model.type == 'Recognizer3D'
        assert head.dropout_ratio == 0.7
        assert (optimizer.lr, optimizer.weight_decay) == (0.025, 1e-4)
        assert (scheduler.milestones, cfg.train_cfg.max_epochs) == \
            ([60, 120], 150)
    assert (scheduler.type, scheduler.gamma) == ('MultiStepLR', 0.1)


@pytest.mark.parametrize('path', RETRIEVAL, ids=lambda p: p.stem)
def test_retrieval_config(path):
    dataset = path.parent.name
    cfg = Config.fromfile(str(path))
    pretrain = Config.fromfile(
        str(ROOT / 'configs' / '_base_' / 'models' / 'fame_r2plus1d_r18.py'))
    assert cfg.model == pretrain.model
    data = cfg.test_dataloader.dataset
    assert data.type == 'VideoRetrievalDataset'
    assert data.gallery.ann_file == \
        f'data/{dataset}/{dataset}_train_split_1_videos.txt'
    assert data.query.ann_file == \
        f'data/{dataset}/{dataset}_val_split_1_videos.txt'
    assert data.gallery.pipeline == data.query.pipeline
    assert data.gallery.type == data.query.type == 'StrictVideoDataset'
    sample, = transforms(data.gallery.pipeline, 'SampleFrames')
    assert (sample.clip_len, sample.frame_interval, sample.num_clips,
            sample.test_mode) == (16, 2, 10, True)
    assert cfg.test_evaluator.type == 'VideoRetrievalMetric'
    assert tuple(cfg.test_evaluator.topk) == (1, 5, 10, 20, 50)


def test_split_variable_names_every_annotation_file(tmp_path):
    """Editing `split` in a config switches all of its annotation files."""
    shutil.copytree(ROOT / 'configs', tmp_path / 'configs')
    for path in [CLASSIFIERS[-1], RETRIEVAL[0]]:
        copy = tmp_path / path.relative_to(ROOT)
        text = copy.read_text()
        assert text.count('\nsplit = 1\n') == 1
        copy.write_text(text.replace('\nsplit = 1\n', '\nsplit = 3\n'))
        cfg = Config.fromfile(str(copy))
        ann_files = re.findall(r"ann_file='([^']*)'", cfg.pretty_text)
        assert len(ann_files) >= 2
        assert all('_split_3_videos.txt' in f for f in ann_files), ann_files
