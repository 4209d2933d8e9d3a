# Copyright (c) OpenMMLab. All rights reserved.
import errno
import os
from pathlib import Path
from unittest import mock

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import projects.fame  # noqa: F401
from projects.fame.engine import fileio
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
# The shipped R(2+1)D-18 model config, narrowed to 64 output channels.
BACKBONE = dict(
    Config.fromfile(
        str(ROOT / 'configs' / '_base_' / 'models' /
            'fame_r2plus1d_r18.py')).model.backbone,
    base_channels=8)


@pytest.fixture(scope='module')
def tool():
    return load_tool('export_backbone')


@pytest.fixture
def checkpoint(tmp_path):
    init_default_scope('mmaction')
    model = MODELS.build(
        dict(
            type='MoCoRecognizer',
            backbone=BACKBONE,
            head=dict(type='MoCoHead', in_channels=64, queue_len=16)))
    path = tmp_path / 'fame.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return path, model


def write_stock_config(tmp_path: Path, base_channels: int) -> str:
    backbone = dict(BACKBONE, base_channels=base_channels)
    path = tmp_path / f'stock_{base_channels}.py'
    path.write_text(
        f'model = dict(type="Recognizer3D", backbone={backbone!r}, '
        'cls_head=dict(type="I3DHead", num_classes=5, in_channels=64))\n')
    return str(path)


def test_recognizer_format_loads_into_stock_recognizer(tool, checkpoint,
                                                       tmp_path, capsys):
    path, model = checkpoint
    out = tmp_path / 'recognizer.pth'
    tool.main(
        [str(path),
         str(out), '--config',
         write_stock_config(tmp_path, 8)])
    printed = capsys.readouterr().out
    assert 'kept' in printed and 'dropped' in printed
    exported = torch.load(out, weights_only=True)['state_dict']
    assert set(exported) == {
        f'backbone.{k}'
        for k in model.backbone.state_dict()
    }
    recognizer = MODELS.build(
        dict(
            type='Recognizer3D',
            backbone=BACKBONE,
            cls_head=dict(type='I3DHead', num_classes=5, in_channels=64)))
    result = recognizer.load_state_dict(exported, strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith('cls_head.') for k in result.missing_keys)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(recognizer.backbone.state_dict()[k], v), k


def test_backbone_format_loads_strictly(tool, checkpoint, tmp_path):
    path, model = checkpoint
    out = tmp_path / 'backbone.pth'
    tool.main([str(path), str(out), '--format', 'backbone'])
    exported = torch.load(out, weights_only=True)['state_dict']
    fresh = MODELS.build(BACKBONE)
    fresh.load_state_dict(exported, strict=True)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k


def test_mismatched_config_is_refused(tool, checkpoint, tmp_path):
    path, _ = checkpoint
    out = tmp_path / 'never.pth'
    with pytest.raises(SystemExit, match='have another shape'):
        tool.main([
            str(path),
            str(out), '--config',
            write_stock_config(tmp_path, 16)
        ])
    assert not out.exists()


def test_checkpoint_without_backbone_is_refused(tool, tmp_path):
    path = tmp_path / 'empty.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(1))), path)
    with pytest.raises(SystemExit, match='error: .* holds no "backbone'):
        tool.main([str(path), str(tmp_path / 'out.pth')])


@pytest.mark.parametrize('link', ['same', 'symlink', 'hardlink'])
def test_output_that_is_the_input_is_refused(tool, checkpoint, tmp_path,
                                             link):
    path, _ = checkpoint
    out = tmp_path / 'out.pth'
    if link == 'same':
        out = path
    elif link == 'symlink':
        out.symlink_to(path)
    else:
        os.link(path, out)
    before = path.read_bytes()
    with pytest.raises(SystemExit, match='is the input checkpoint'):
        tool.main([str(path), str(out)])
    assert path.read_bytes() == before


def test_a_failed_write_keeps_the_old_output(tool, checkpoint, tmp_path):
    path, _ = checkpoint
    out = tmp_path / 'out.pth'
    out.write_bytes(b'old export')
    with mock.patch.object(fileio.os, 'fsync', side_effect=OSError('full')):
        with pytest.raises(OSError, match='full'):
            tool.main([str(path), str(out)])
    assert out.read_bytes() == b'old export'
    assert not list(tmp_path.glob('.*.partial'))
    # a full disk is one message naming the output
    full = OSError(errno.ENOSPC, 'No space left on device')
    with mock.patch.object(fileio.os, 'fsync', side_effect=full):
        with pytest.raises(SystemExit) as info:
            tool.main([str(path), str(out)])
    assert str(info.value) == (
        f'error: no space left on the device to write {out}; an earlier '
        'file there is kept whole')
    assert out.read_bytes() == b'old export'
    assert not list(tmp_path.glob('.*.partial'))


def test_unreadable_inputs_are_named(tool, checkpoint, tmp_path):
    path, _ = checkpoint
    out = tmp_path / 'out.pth'
    with pytest.raises(
            SystemExit, match=f'error: --config: no such file: {tmp_path}/no'):
        tool.main([str(path), str(out), '--config', str(tmp_path / 'no.py')])
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(path.read_bytes()[:1000])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    for bad in (truncated, empty):
        with pytest.raises(
                SystemExit,
                match=f"error: Cannot read checkpoint '{bad}': it is empty, "
                'truncated'):
            tool.main([str(bad), str(out)])
    assert not out.exists()
