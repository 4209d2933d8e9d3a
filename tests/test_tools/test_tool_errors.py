# Copyright (c) OpenMMLab. All rights reserved.
"""Errors of tools/train.py and tools/test.py that tell the user what to do."""
import errno
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from projects.fame.engine.fileio import LOCK_NAME
from projects.fame.utils import ConfigError
from tests.other_run import another_run_holding
from tests.tool_loader import load_tool
from tools.cli import (check_data_paths, check_optional_dependencies,
                       exit_on_user_errors)

CONFIG = """
train_dataloader = dict(
    dataset=dict(
        type='RepeatDataset',
        times=2,
        dataset=dict(
            type='RepeatAugDataset',
            ann_file='{ann}',
            data_prefix=dict(video='{videos}'))))
val_cfg = dict(
    type='KNNValLoop',
    bank_dataloader=dict(dataset=dict(ann_file='{bank_ann}')))
val_dataloader = dict(
    dataset=dict(ann_file='{val_ann}', data_prefix=dict(video='{videos}')))
val_evaluator = dict(type='AccMetric')
test_dataloader = dict(
    dataset=dict(
        type='ConcatDataset',
        datasets=[dict(ann_file='{val_ann}'), dict(ann_file='{test_ann}')]))
test_cfg = dict(type='TestLoop')
visualizer = dict(
    type='ActionVisualizer', vis_backends=[dict(type='LocalVisBackend')])
"""


@pytest.fixture
def data(tmp_path):
    """A data folder whose train annotation and videos exist."""
    (tmp_path / 'videos').mkdir()
    (tmp_path / 'train.txt').write_text('a.mp4 0\n')
    return tmp_path


def write_config(data: Path, **paths: str) -> Path:
    values = dict(
        ann=data / 'train.txt',
        videos=data / 'videos',
        val_ann=data / 'train.txt',
        bank_ann=data / 'train.txt',
        test_ann=data / 'train.txt')
    values.update(paths)
    path = data / 'config.py'
    path.write_text(CONFIG.format(**values))
    return path


@pytest.fixture
def no_runner(monkeypatch):
    """Fail the test if a tool gets as far as building the Runner."""

    def refuse(cfg):
        raise AssertionError('the Runner was built')

    monkeypatch.setattr('mmengine.runner.Runner.from_cfg', refuse)


def run_tool(monkeypatch, name: str, *argv: str) -> str:
    """Run a tool's ``main`` and return its exit message."""
    tool = load_tool(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    with pytest.raises(SystemExit) as info:
        tool.main()
    return str(info.value.code)


def test_existing_paths_pass(data):
    cfg = Config.fromfile(str(write_config(data)))
    check_data_paths(cfg,
                     ['train_dataloader', 'val_dataloader', 'test_dataloader'])


def test_missing_paths_name_file_and_key(data):
    cfg = Config.fromfile(
        str(
            write_config(
                data,
                ann=data / 'nope.txt',
                videos=data / 'missing_videos',
                test_ann=data / 'test.txt')))
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg, ['train_dataloader', 'test_dataloader'])
    lines = str(info.value).splitlines()
    assert lines[1:4] == [
        '  train_dataloader.dataset.dataset.ann_file: no such file: '
        f'{data}/nope.txt',
        '  train_dataloader.dataset.dataset.data_prefix.video: no such '
        f'folder: {data}/missing_videos',
        '  test_dataloader.dataset.datasets.1.ann_file: no such file: '
        f'{data}/test.txt',
    ]
    assert 'test_dataloader.dataset.datasets.0' not in str(info.value)
    # Only the dataloaders asked for are checked; absent ones are skipped.
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg, ['val_dataloader', 'no_such_dataloader'])
    assert str(info.value).splitlines()[1:-1] == [
        '  val_dataloader.dataset.data_prefix.video: no such folder: '
        f'{data}/missing_videos'
    ]


def test_data_root_and_remote_paths(data):
    cfg = dict(
        train_dataloader=dict(
            dataset=dict(
                data_root=str(data),
                ann_file='train.txt',
                data_prefix=dict(video='videos', img='s3://bucket/frames'))))
    check_data_paths(cfg, ['train_dataloader'])
    cfg['train_dataloader']['dataset']['ann_file'] = 'val.txt'
    with pytest.raises(FileNotFoundError, match=f'no such file: {data}/val'):
        check_data_paths(cfg, ['train_dataloader'])
    # An annotation file is no folder, and a folder no annotation file.
    cfg['train_dataloader']['dataset']['ann_file'] = 'videos'
    with pytest.raises(FileNotFoundError, match='no such file'):
        check_data_paths(cfg, ['train_dataloader'])


def test_retrieval_gallery_and_query_are_checked(data):
    video_set = dict(
        type='VideoDataset',
        ann_file=str(data / 'train.txt'),
        data_prefix=dict(video=str(data / 'videos')))
    cfg = dict(
        test_dataloader=dict(
            dataset=dict(
                type='VideoRetrievalDataset',
                gallery=video_set,
                query=dict(video_set, ann_file=str(data / 'val.txt')))))
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg, ['test_dataloader'])
    assert str(info.value).splitlines()[1:-1] == [
        '  test_dataloader.dataset.query.ann_file: no such file: '
        f'{data}/val.txt'
    ]


def test_missing_tensorboard_names_package_and_command(monkeypatch):
    # Whether or not tensorboard is installed here, make it missing.
    monkeypatch.setitem(sys.modules, 'tensorboard', None)
    cfg = dict(
        visualizer=dict(
            type='ActionVisualizer',
            vis_backends=[
                dict(type='LocalVisBackend'),
                dict(type='mmengine.TensorboardVisBackend')
            ]),
        train_pipeline=[dict(type='DecordInit'),
                        dict(type='PyAVInit')],
        test_pipeline=[dict(type='PyAVDecode')])
    monkeypatch.setitem(sys.modules, 'av', None)
    with pytest.raises(ModuleNotFoundError) as info:
        check_optional_dependencies(cfg)
    assert str(info.value).splitlines()[1:] == [
        '  tensorboard, for visualizer.vis_backends.1 '
        '(TensorboardVisBackend): pip install tensorboard',
        '  av, for train_pipeline.1 (PyAVInit), test_pipeline.0 '
        '(PyAVDecode): pip install av'
    ]
    check_optional_dependencies(
        dict(
            visualizer=cfg['visualizer']['vis_backends'][0],
            pipeline=[dict(type='DecordInit')]))


def test_train_stops_before_the_runner(data, monkeypatch, no_runner):
    config = write_config(data, ann=data / 'nope.txt')
    message = run_tool(monkeypatch, 'train', str(config))
    assert message.startswith('error: Missing data:')
    assert f'train_dataloader.dataset.dataset.ann_file: no such file: ' \
        f'{data}/nope.txt' in message
    assert '--cfg-options' in message

    # Validation data (the kNN bank too) is checked unless validation is
    # off.
    config = write_config(
        data, val_ann=data / 'val.txt', bank_ann=data / 'bank.txt')
    message = run_tool(monkeypatch, 'train', str(config))
    assert message.splitlines()[1:3] == [
        f'  val_dataloader.dataset.ann_file: no such file: {data}/val.txt',
        '  val_cfg.bank_dataloader.dataset.ann_file: no such file: '
        f'{data}/bank.txt'
    ]
    with pytest.raises(AssertionError, match='the Runner was built'):
        run_tool(monkeypatch, 'train', str(config), '--no-validate')


def test_train_names_a_missing_load_from(data, monkeypatch, no_runner):
    message = run_tool(monkeypatch, 'train', str(write_config(data)),
                       '--cfg-options', f'load_from={data}/backbone.pth')
    assert message == (f'error: load_from: no such file: {data}/backbone.pth;'
                       ' set it with --cfg-options load_from=PATH')
    # A URL is left to MMEngine.
    with pytest.raises(AssertionError, match='the Runner was built'):
        run_tool(monkeypatch, 'train', str(write_config(data)),
                 '--cfg-options', 'load_from=https://example.com/a.pth')


def test_train_tensorboard_switch_without_tensorboard(data, monkeypatch,
                                                      no_runner):
    monkeypatch.setitem(sys.modules, 'tensorboard', None)
    message = run_tool(monkeypatch, 'train', str(write_config(data)),
                       '--cfg-options',
                       'visualizer.vis_backends.0.type=TensorboardVisBackend')
    assert message == (
        'error: Missing package(s):\n  tensorboard, for visualizer.'
        'vis_backends.0 (TensorboardVisBackend): pip install tensorboard')


def test_test_tool_names_checkpoint_and_data(data, monkeypatch, no_runner):
    config = write_config(data, test_ann=data / 'test.txt')
    message = run_tool(monkeypatch, 'test', str(config),
                       str(data / 'epoch_1.pth'))
    assert message == f'error: Checkpoint file not found: {data}/epoch_1.pth'

    (data / 'epoch_1.pth').write_bytes(b'')
    message = run_tool(monkeypatch, 'test', str(config),
                       str(data / 'epoch_1.pth'))
    assert 'test_dataloader.dataset.datasets.1.ann_file: no such file: ' \
        f'{data}/test.txt' in message


def test_test_tool_lists_close_config_names(monkeypatch, no_runner):
    message = run_tool(monkeypatch, 'test', 'fame_r2plus1d_k40.py', 'x.pth')
    assert message.startswith(
        'error: Config file not found: fame_r2plus1d_k40.py. Did you mean: '
        'configs/fame_r2plus1d_k400.py')


def test_test_tool_refuses_a_checkpoint_that_misses_the_backbone(
        data, monkeypatch):
    """Loaded with strict=False, it would score a random backbone."""

    def recognizer(channels: int, prefix: str = 'backbone') -> nn.Module:
        model = nn.Module()
        model.add_module(prefix, nn.Conv3d(3, channels, 3))
        model.cls_head = nn.Linear(channels, 2)
        return model

    tested = []
    model = recognizer(8)
    monkeypatch.setattr(
        'mmengine.runner.Runner.from_cfg', lambda cfg: SimpleNamespace(
            model=model, test=lambda: tested.append(True)))
    config = str(write_config(data))
    for name, other in [('narrow', recognizer(4)),
                        ('other', recognizer(8, 'encoder'))]:
        torch.save(dict(state_dict=other.state_dict()), data / f'{name}.pth')
    message = run_tool(monkeypatch, 'test', config, str(data / 'narrow.pth'))
    assert message == (
        f'error: {data}/narrow.pth fills only 0 of the 2 backbone tensors of '
        'the model: 2 have another shape (e.g. backbone.weight: checkpoint '
        '(4, 3, 3, 3, 3) vs model (8, 3, 3, 3, 3)). Evaluating it would '
        'score a randomly initialised backbone: give the config of the '
        'model the checkpoint was trained with.')
    message = run_tool(monkeypatch, 'test', config, str(data / 'other.pth'))
    assert '0 of the 2 backbone tensors of the model: 2 are not in it ' \
        '(e.g. backbone.weight)' in message
    # a pretraining checkpoint fills the backbone but holds no classifier
    pretrained = {
        k: v
        for k, v in model.state_dict().items() if k.startswith('backbone.')
    }
    torch.save(dict(state_dict=pretrained), data / 'pretrained.pth')
    message = run_tool(monkeypatch, 'test', config,
                       str(data / 'pretrained.pth'))
    assert message.startswith(
        f'error: {data}/pretrained.pth fills only 0 of the 2 cls_head '
        'tensors of the model: 2 are not in it (e.g. cls_head.weight). '
        'Evaluating it would score a randomly initialised classifier: a '
        'pretraining checkpoint has none.')
    assert not tested

    # A checkpoint of the model is evaluated, a DDP-style one too.
    torch.save(
        dict(state_dict={f'module.{k}': v
                         for k, v in model.state_dict().items()}),
        data / 'good.pth')
    monkeypatch.setattr(sys, 'argv',
                        ['test.py', config,
                         str(data / 'good.pth')])
    load_tool('test').main()
    assert tested == [True]


def test_a_misspelt_argument_is_named_by_its_config_key(data, monkeypatch):
    config = write_config(data)
    config.write_text(config.read_text() + (
        "model = dict(type='MoCoRecognizer', backbone=dict(type='X'), "
        "head=dict(type='MoCoHead', in_channels=8, temprature=0.1))\n"))
    typo = TypeError("MoCoHead.__init__() got an unexpected keyword argument "
                     "'temprature'")

    def build(cfg):
        raise typo

    monkeypatch.setattr('mmengine.runner.Runner.from_cfg', build)
    assert run_tool(monkeypatch, 'train', str(config)) == (
        "error: model.head.temprature: MoCoHead takes no argument "
        "'temprature'; is it misspelt?")
    (data / 'epoch_1.pth').write_bytes(b'')
    assert run_tool(monkeypatch, 'test', str(config),
                    str(data / 'epoch_1.pth')).startswith(
                        'error: model.head.temprature: MoCoHead')
    # Other type errors are not the user's: their traceback is kept.
    typo.args = ('unsupported operand', )
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config)])
    with pytest.raises(TypeError, match='unsupported operand'):
        load_tool('train').main()


@pytest.mark.parametrize('content', [b'', b'PK\x03\x04 cut'])
def test_test_tool_names_an_unreadable_checkpoint(data, monkeypatch, content):
    monkeypatch.setattr('mmengine.runner.Runner.from_cfg',
                        lambda cfg: SimpleNamespace(model=nn.Module()))
    (data / 'epoch_1.pth').write_bytes(content)
    message = run_tool(monkeypatch, 'test', str(write_config(data)),
                       str(data / 'epoch_1.pth'))
    assert message.startswith(
        f"error: Cannot read checkpoint '{data}/epoch_1.pth': it is empty, "
        'truncated')


BAD_LISTS = {
    'non_integer_label': ('a.mp4 0\nb.mp4 one\n',
                          "train.txt:2: label 'one' is no integer >= 0"),
    'path_with_a_space': ('my video.mp4 0\n', 'train.txt:1: expected "video '
                          'label", separated by one space (none in the path), '
                          'got "my video.mp4 0"'),
    'empty_list': ('', 'train.txt lists no videos'),
    'blank_line': ('a.mp4 0\n\nb.mp4 1\n', 'train.txt:2: blank line'),
    'label_out_of_range':
    ('a.mp4 0\nb.mp4 5\n', 'train.txt:2: label 5 is out of range for '
     'model.cls_head.num_classes=5'),
    'not_utf8': (b'\xff.mp4 0\n', "train.txt is not UTF-8 text: 'utf-8' "
                 "codec can't decode byte 0xff in position 0: invalid start "
                 'byte'),
}


@pytest.mark.parametrize('case', sorted(BAD_LISTS))
def test_bad_video_lists_name_file_and_line(data, monkeypatch, no_runner,
                                            case):
    text, problem = BAD_LISTS[case]
    ann_file = data / 'train.txt'
    getattr(ann_file, 'write_bytes' if isinstance(text, bytes) else
            'write_text')(text)
    config = data / 'config.py'
    config.write_text(
        'model = dict(cls_head=dict(num_classes=5))\n'
        'train_dataloader = dict(dataset=dict(type="VideoDataset", '
        f'ann_file="{ann_file}", data_prefix=dict(video="{data}")))\n')
    assert run_tool(monkeypatch, 'train', str(config)) == (
        'error: Bad video list:\n  train_dataloader.dataset.ann_file: '
        f'{data}/{problem}')


def test_pretraining_lists_need_no_integer_labels(data):
    (data / 'train.txt').write_text('a.mp4 walking\nb.mp4\n')
    cfg = dict(
        train_dataloader=dict(
            dataset=dict(
                type='RobustRepeatAugDataset',
                ann_file=str(data / 'train.txt'),
                data_prefix=dict(video=str(data)))))
    check_data_paths(cfg, ['train_dataloader'])
    (data / 'train.txt').write_text('a video.mp4 0\n')
    with pytest.raises(ValueError, match='train.txt:1: expected "video'):
        check_data_paths(cfg, ['train_dataloader'])


@pytest.mark.parametrize('load_from, source',
                         [('work/epoch_3.pth', 'work/epoch_3.pth'),
                          (None, 'the latest checkpoint in work')])
def test_resume_from_another_models_checkpoint_is_named(load_from, source):
    # The optimizer state of a model with other parameters, as --resume
    # loads it: torch's ValueError becomes one message naming the file.
    saved = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    cfg = Config(dict(resume=True, load_from=load_from, work_dir='work'))
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_user_errors(cfg):
            optimizer.load_state_dict(saved.state_dict())
    message = str(exit_info.value)
    assert message.startswith(f'error: cannot resume from {source}: its '
                              'optimizer state does not fit')
    assert 'load_from=PATH without --resume' in message
    # nothing was loaded, and without --resume the error is left as it is
    assert optimizer.state_dict()['param_groups'][0]['params'] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match='parameter group'):
        with exit_on_user_errors(Config(dict(load_from=load_from))):
            optimizer.load_state_dict(saved.state_dict())


def test_a_full_disk_is_named(tmp_path, monkeypatch):
    # write_atomic names the file that a full disk (ENOSPC) interrupted
    from projects.fame.engine.fileio import write_atomic
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'complete')

    def no_space(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    # a full disk shows at the flush to the disk
    monkeypatch.setattr('os.fsync', no_space)
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_user_errors(Config(dict(work_dir=str(tmp_path)))):
            write_atomic(b'x' * 10, target)
    assert str(exit_info.value).startswith(
        f'error: no space left on the device to write {target}.')
    # the old checkpoint is whole and no temporary is left
    assert target.read_bytes() == b'complete'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']
    # MMEngine's own writes (the log, the config dump) name no file
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_user_errors(Config(dict(work_dir=str(tmp_path)))):
            raise OSError(errno.ENOSPC, 'No space left on device')
    assert str(exit_info.value).startswith(
        f'error: no space left on the device to write into {tmp_path}.')
    # other OS errors are raised as they are
    with pytest.raises(PermissionError):
        with exit_on_user_errors(Config()):
            raise PermissionError(errno.EACCES, 'Permission denied', 'x')


def test_a_bad_config_value_is_one_message():
    # e.g. a dataset built inside the Runner refusing num_repeats=3
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_user_errors(Config()):
            raise ConfigError('train_dataloader.dataset.num_repeats',
                              'must be 2 (the two views of each video), '
                              'got 3')
    assert str(exit_info.value) == (
        'error: train_dataloader.dataset.num_repeats must be 2 (the two '
        'views of each video), got 3')


def test_train_refuses_a_work_dir_in_use(data, monkeypatch, no_runner):
    work = data / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'the other run')
    with another_run_holding(work) as other:
        message = run_tool(monkeypatch, 'train', str(write_config(data)),
                           '--work-dir', str(work))
    assert message.startswith(f'error: The work dir {work} is in use by '
                              f'another run (pid {other.pid})')
    # before the Runner: nothing written or removed
    assert sorted(p.name for p in work.iterdir()) == [LOCK_NAME, 'epoch_1.pth']
    assert (work / 'epoch_1.pth').read_bytes() == b'the other run'


def test_test_tool_names_a_pretraining_config(monkeypatch, no_runner):
    config = Path(__file__).resolve().parents[2] / 'configs' / \
        'fame_r3d_tiny_motion.py'
    message = run_tool(monkeypatch, 'test', str(config), 'any.pth')
    assert message == (
        f'error: {config} has no test_dataloader / test_cfg: it is a '
        'pretraining config. Evaluate a pretrained backbone with a config '
        'of configs/transfer/ (fine-tune, linear probe or retrieval; '
        'docs/transfer.md)')
