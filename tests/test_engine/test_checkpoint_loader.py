# Copyright (c) OpenMMLab. All rights reserved.
"""Every checkpoint MMEngine reads goes through the weights-only loader,
once the tools have registered it."""
import functools
import http.server
import subprocess
import sys
import threading

import mmengine.runner.checkpoint as mmengine_checkpoint
import pytest
import torch
from mmengine.runner import CheckpointLoader, load_checkpoint
from mmengine.utils import digit_version
from torch import nn

import projects.fame  # noqa: F401
from projects.fame.engine import (load_from_http_safely,
                                  load_from_local_safely,
                                  register_safe_checkpoint_loaders)
from projects.fame.utils import UnsafeCheckpointError
from tests.tool_loader import REPO_ROOT, load_tool

pytestmark = pytest.mark.skipif(
    digit_version(torch.__version__) < digit_version('2.6.0'),
    reason='the allow-list needs torch >= 2.6')


class Payload:
    """Runs ``code`` when unpickled, as a malicious checkpoint would."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code, )


@pytest.fixture
def files(tmp_path):
    """A valid and a malicious checkpoint, and the payload's marker."""
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'good.pth')
    marker = tmp_path / 'marker.txt'
    code = f'open({str(marker)!r}, "w").write("code ran")'
    torch.save(
        dict(state_dict=model.state_dict(), meta=Payload(code)),
        tmp_path / 'evil.pth')
    return tmp_path, model, marker


@pytest.fixture
def server(files):
    """Serve the checkpoints over HTTP from a local thread."""
    root = files[0]
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


@pytest.fixture
def safe_loaders(monkeypatch):
    """Register the loaders; MMEngine's come back after the test."""
    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        dict(CheckpointLoader._schemes))
    monkeypatch.setattr(mmengine_checkpoint, 'load_from_http',
                        mmengine_checkpoint.load_from_http)
    register_safe_checkpoint_loaders()


def assert_registered():
    assert CheckpointLoader._get_checkpoint_loader('a/b.pth') is \
        load_from_local_safely
    assert CheckpointLoader._get_checkpoint_loader('https://x/b.pth') is \
        load_from_http_safely
    # torchvision://, open-mmlab:// and mmcls:// resolve through it.
    assert mmengine_checkpoint.load_from_http is load_from_http_safely


def test_import_leaves_the_loaders_alone():
    code = ('import mmengine.runner.checkpoint as c\n'
            'schemes = dict(c.CheckpointLoader._schemes)\n'
            'load_from_http = c.load_from_http\n'
            'import projects.fame\n'
            'assert c.CheckpointLoader._schemes == schemes\n'
            'assert c.load_from_http is load_from_http\n')
    subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, check=True)


def test_loaders_are_registered(safe_loaders):
    assert_registered()


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_register_the_loaders_before_the_runner(tool, tmp_path,
                                                      monkeypatch):
    (tmp_path / 'train.txt').write_text('a.mp4 0\n')
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    dataloader = (f"dict(dataset=dict(ann_file='{tmp_path}/train.txt', "
                  f"data_prefix=dict(video='{tmp_path}')))")
    config = tmp_path / 'config.py'
    config.write_text(f'train_dataloader = {dataloader}\n'
                      f'test_dataloader = {dataloader}\n'
                      "test_cfg = dict(type='TestLoop')\n")
    argv = [str(config)]
    if tool == 'test':
        argv.append(str(tmp_path / 'epoch_1.pth'))
    monkeypatch.setattr(sys, 'argv', [f'{tool}.py', *argv])
    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        dict(CheckpointLoader._schemes))
    monkeypatch.setattr(mmengine_checkpoint, 'load_from_http',
                        mmengine_checkpoint.load_from_http)

    def from_cfg(cfg):
        assert_registered()
        raise SystemExit('the Runner was built')

    monkeypatch.setattr('mmengine.runner.Runner.from_cfg', from_cfg)
    with pytest.raises(SystemExit, match='the Runner was built'):
        load_tool(tool).main()


def test_local_checkpoints_are_refused_even_when_torch_is_told_otherwise(
        files, safe_loaders, monkeypatch):
    root, model, marker = files
    # Turns torch.load's default to weights_only=False.
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(nn.Linear(2, 1), str(root / 'evil.pth'))
    assert not marker.exists()
    fresh = nn.Linear(2, 1)
    load_checkpoint(fresh, str(root / 'good.pth'))
    assert torch.equal(fresh.weight, model.weight)


def test_downloaded_checkpoints_are_refused(files, server, safe_loaders,
                                            monkeypatch):
    root, model, marker = files
    monkeypatch.setenv('TORCH_HOME', str(root / 'torch_home'))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(nn.Linear(2, 1), f'{server}/evil.pth')
    assert not marker.exists()
    fresh = nn.Linear(2, 1)
    load_checkpoint(fresh, f'{server}/good.pth')
    assert torch.equal(fresh.weight, model.weight)

    # What MMEngine would have done: torch.hub loads URLs with
    # weights_only=False and runs the payload.
    torch.hub.load_state_dict_from_url(
        f'{server}/evil.pth', model_dir=str(root / 'hub'), progress=False)
    assert marker.read_text() == 'code ran'


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'evil'])
def test_train_names_a_bad_checkpoint_to_resume(kind, files, monkeypatch):
    """``tools/train.py --resume FILE``: one message, nothing run."""
    root, _, marker = files
    path = root / f'{kind}.pth'
    if kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'truncated':
        path.write_bytes((root / 'good.pth').read_bytes()[:100])
    (root / 'train.txt').write_text('a.mp4 0\n')
    config = root / 'config.py'
    config.write_text(
        f"train_dataloader = dict(dataset=dict(ann_file='{root}/train.txt', "
        f"data_prefix=dict(video='{root}')))\n")
    monkeypatch.setattr(sys, 'argv', [
        'train.py',
        str(config), '--resume',
        str(path), '--work-dir',
        str(root / 'work')
    ])
    monkeypatch.setattr(CheckpointLoader, '_schemes',
                        dict(CheckpointLoader._schemes))
    monkeypatch.setattr(mmengine_checkpoint, 'load_from_http',
                        mmengine_checkpoint.load_from_http)

    class ResumingRunner:
        """Reads the checkpoint to resume from as MMEngine's Runner does."""

        def __init__(self, cfg):
            self.cfg = cfg

        def train(self):
            CheckpointLoader.load_checkpoint(self.cfg.load_from)

    monkeypatch.setattr('mmengine.runner.Runner.from_cfg', ResumingRunner)
    with pytest.raises(SystemExit) as info:
        load_tool('train').main()
    message = str(info.value)
    if kind == 'evil':
        assert message.startswith(
            f"error: Refused to load checkpoint '{path}': it contai")
        assert 'GLOBAL exec' in message
        assert not marker.exists()
    else:
        assert message.startswith(
            f"error: Cannot read checkpoint '{path}': it is empty, truncated")
