# Copyright (c) OpenMMLab. All rights reserved.
"""Fine-tune, linear-probe and retrieve through MMEngine's Runner.

The transfer configs run as shipped, with narrow backbones, tiny generated
videos and a FAME checkpoint exported by tools/export_backbone.py as
``load_from``.
"""
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import projects.fame  # noqa: F401
from projects.fame.evaluation import retrieval_recall
from tests.tool_loader import load_tool
from tests.toy_models import narrow_backbone

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / 'transfer' / 'ucf101'
PRETRAIN_MODELS = ROOT / 'configs' / '_base_' / 'models'
NUM_VIDEOS = 6
NUM_CLASSES = 3
BASE_CHANNELS = 4
BACKBONES = dict(
    r2plus1d=('fame_r2plus1d_r18', 'r2plus1d_fame-pretrained-r18'),
    i3d=('fame_i3d_r50', 'i3d_fame-pretrained-r50'),
    slowfast=('fame_slowfast_r50', 'slowfast_fame-pretrained-r50'))


@pytest.fixture(scope='module')
def videos(tmp_path_factory) -> Path:
    """Six 20-frame 64x48 noise videos of three classes."""
    root = tmp_path_factory.mktemp('videos')
    lines = []
    for index in range(NUM_VIDEOS):
        rng = np.random.default_rng(index)
        writer = cv2.VideoWriter(
            str(root / f'{index}.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 25,
            (64, 48))
        for _ in range(20):
            writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
        writer.release()
        lines.append(f'{index}.mp4 {index % NUM_CLASSES}\n')
    (root / 'list.txt').write_text(''.join(lines))
    return root


@pytest.fixture(scope='module')
def exported(tmp_path_factory) -> Dict[str, Path]:
    """Exported backbones of FAME checkpoints, per backbone."""
    tool = load_tool('export_backbone')
    init_default_scope('mmaction')
    root = tmp_path_factory.mktemp('checkpoints')
    paths = {}
    for name, (pretrain_model, _) in BACKBONES.items():
        cfg = Config.fromfile(str(PRETRAIN_MODELS / f'{pretrain_model}.py'))
        cfg.model.head.in_channels = narrow_backbone(cfg.model.backbone,
                                                     BASE_CHANNELS)
        cfg.model.head.queue_len = 16
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        fame = root / f'{name}_fame.pth'
        torch.save(dict(state_dict=model.state_dict(), meta={}), fame)
        paths[name] = root / f'{name}_backbone.pth'
        tool.export(str(fame), str(paths[name]))
    return paths


def tiny_config(path: Path, videos: Path, load_from: Path,
                work_dir: Path) -> Config:
    """A shipped config on the tiny videos: 8-frame clips at 32x32."""
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.load_from = str(load_from)
    cfg.model.cls_head.in_channels = narrow_backbone(cfg.model.backbone,
                                                     BASE_CHANNELS)
    cfg.model.cls_head.num_classes = NUM_CLASSES
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(
            batch_size=2, num_workers=0, persistent_workers=False)
        dataset = cfg[loader].dataset
        dataset.update(
            ann_file=str(videos / 'list.txt'),
            data_prefix=dict(video=str(videos)))
        for transform in dataset.pipeline:
            if transform.type == 'SampleFrames':
                transform.clip_len = 8
            elif transform.type == 'Resize':
                transform.scale = (-1, 36) if transform.scale[0] == -1 \
                    else (32, 32)
            elif transform.type == 'CenterCrop':
                transform.crop_size = 32
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = None  # saving takes longer than training
    cfg.randomness = dict(seed=0)
    return cfg


def train_and_test(schedule: str, name: str, videos: Path,
                   exported: Dict[str,
                                  Path], work_dir: Path) -> Tuple[dict, dict]:
    """Train and test a shipped UCF101 config from the exported backbone.

    Args:
        schedule (str): The config name's schedule part, e.g.
            ``'8xb16-16x2x1-150e'``.
        name (str): The backbone, a key of ``BACKBONES``.
        videos (Path): The tiny videos.
        exported (dict[str, Path]): The exported backbones.
        work_dir (Path): The run's work dir.

    Returns:
        tuple[dict, dict]: The trained model's state dict and the exported
        backbone's.
    """
    cfg = tiny_config(
        CONFIGS / f'{BACKBONES[name][1]}_{schedule}_ucf101-rgb.py', videos,
        exported[name], work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()

    assert runner.iter == NUM_VIDEOS // 2
    assert 0 <= metrics['acc/top1'] <= 1
    pretrained = torch.load(exported[name], weights_only=True)['state_dict']
    trained = runner.model.state_dict()
    assert {k for k in trained if k.startswith('backbone.')} == set(pretrained)
    return trained, pretrained


@pytest.mark.parametrize('name', list(BACKBONES))
def test_finetune(name, videos, exported, tmp_path):
    trained, pretrained = train_and_test('8xb16-16x2x1-150e', name, videos,
                                         exported, tmp_path)
    # Fine-tuning trains the backbone.
    assert any(not torch.equal(trained[k], v) for k, v in pretrained.items()
               if k.endswith('.weight'))


@pytest.mark.parametrize('name', list(BACKBONES))
def test_linear_probe_keeps_the_backbone(name, videos, exported, tmp_path):
    trained, pretrained = train_and_test('8xb32-linear-16x2x1-100e', name,
                                         videos, exported, tmp_path)
    # Weights and BN running statistics equal the pretrained ones.
    for key, value in pretrained.items():
        assert torch.equal(trained[key], value), key


def test_retrieval(videos, exported, tmp_path):
    """Runner's Recall@k equals the recall of per-video features."""
    query_list = tmp_path / 'queries.txt'
    query_list.write_text(''.join(
        (videos / 'list.txt').read_text().splitlines(True)[:2]))
    cfg = Config.fromfile(
        str(CONFIGS / 'r2plus1d_fame-pretrained-r18_retrieval-16x2x10_'
            'ucf101-rgb.py'))
    cfg.work_dir = str(tmp_path)
    cfg.load_from = str(exported['r2plus1d'])
    cfg.model.head.in_channels = narrow_backbone(cfg.model.backbone,
                                                 BASE_CHANNELS)
    cfg.test_dataloader.update(
        batch_size=3, num_workers=0, persistent_workers=False)
    dataset = cfg.test_dataloader.dataset
    for subset, ann_file in (('gallery', videos / 'list.txt'), ('query',
                                                                query_list)):
        dataset[subset].update(
            ann_file=str(ann_file), data_prefix=dict(video=str(videos)))
    pipeline = dataset.gallery.pipeline
    pipeline[1].clip_len = 8
    pipeline[3].scale = (-1, 36)
    pipeline[4].crop_size = 32
    dataset.query.pipeline = pipeline
    cfg.test_evaluator.topk = (1, 2, 3)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()

    # The same features, one video at a time, from the pretrained backbone.
    model = runner.model.eval()
    transform = Compose(pipeline)

    def features(ann_file: Path):
        feats, labels = [], []
        for line in ann_file.read_text().splitlines():
            video, label = line.split()
            data = transform(
                dict(
                    filename=str(videos / video),
                    label=int(label),
                    start_index=0,
                    modality='RGB'))
            with torch.no_grad():
                feats.append(
                    model.test_step(pseudo_collate([data]))[0].backbone_feat)
            labels.append(int(label))
        return torch.stack(feats), torch.tensor(labels)

    recalls = retrieval_recall(*features(videos / 'list.txt'),
                               *features(query_list), (1, 2, 3))
    assert metrics == pytest.approx({
        f'retrieval/R{k}': 100 * v
        for k, v in recalls.items()
    })
    pretrained = torch.load(
        exported['r2plus1d'], weights_only=True)['state_dict']
    for key, value in pretrained.items():
        assert torch.equal(runner.model.state_dict()[key], value), key
