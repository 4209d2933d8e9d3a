# Copyright (c) OpenMMLab. All rights reserved.
import io
import os
import pickletools
import re
import uuid
import zipfile
from pathlib import Path

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmengine.utils import digit_version

from projects.fame.utils import (UnreadableCheckpointError,
                                 UnsafeCheckpointError, load_checkpoint_safely,
                                 register_checkpoint_safe_globals)
from tests.toy_models import ToyDataset, ToyModel

pytestmark = pytest.mark.skipif(
    digit_version(torch.__version__) < digit_version('2.6.0'),
    reason='the allow-list needs torch >= 2.6')


class ToyMetric(BaseMetric):

    def process(self, data_batch, data_samples) -> None:
        self.results.append(float(len(data_samples)))

    def compute_metrics(self, results) -> dict:
        return dict(acc=sum(results) / len(results))


class Payload:
    """Runs ``code`` when unpickled, as a malicious checkpoint would."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code, )


def build_runner(work_dir: Path, max_iters: int, **kwargs) -> Runner:
    loader = dict(
        dataset=ToyDataset(8),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        num_workers=0)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'test_checkpoint_{uuid.uuid4().hex}',
        train_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=1),
        val_dataloader=loader,
        val_cfg=dict(),
        val_evaluator=dict(type=ToyMetric),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.001, momentum=0.9)),
        param_scheduler=dict(
            type='LinearLR', start_factor=0.5, by_epoch=False, end=2),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False)),
        randomness=dict(seed=0),
        log_level='WARNING',
        **kwargs)


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp('fame_ckpt')
    build_runner(work_dir, max_iters=2).train()
    path = work_dir / 'iter_2.pth'
    assert path.is_file()
    return path


def test_register_is_idempotent():
    register_checkpoint_safe_globals()
    before = torch.serialization.get_safe_globals()
    register_checkpoint_safe_globals()
    after = torch.serialization.get_safe_globals()
    assert len(after) == len(before)
    assert HistoryBuffer in after


def test_runner_checkpoint_loads_weights_only(runner_checkpoint):
    # The checkpoint holds globals that torch refuses by default.
    with zipfile.ZipFile(runner_checkpoint) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        ops = pickletools.genops(archive.read(name))
        pickled_globals = {arg for op, arg, _ in ops if op.name == 'GLOBAL'}
    assert 'mmengine.logging.history_buffer HistoryBuffer' in pickled_globals
    assert '__builtin__ getattr' in pickled_globals

    register_checkpoint_safe_globals()
    checkpoint = torch.load(
        runner_checkpoint, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    loss = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert len(loss.data[0]) == 2
    assert loss.statistics('mean') == pytest.approx(loss.mean())

    checkpoint = load_checkpoint_safely(runner_checkpoint)
    assert set(checkpoint['state_dict']) == {'linear.weight', 'linear.bias'}


def test_runner_resumes_from_checkpoint(runner_checkpoint, tmp_path):
    register_checkpoint_safe_globals()
    runner = build_runner(
        tmp_path, max_iters=3, resume=True, load_from=str(runner_checkpoint))
    runner.train()
    assert runner.iter == 3
    assert (tmp_path / 'iter_3.pth').is_file()
    # Two losses come from the checkpoint's message hub, one is new.
    loss = runner.message_hub.get_scalar('train/loss')
    assert len(loss.data[0]) == 3


def test_numpy1_module_paths_load(runner_checkpoint, tmp_path):
    # numpy 1.x pickles arrays and scalars as ``numpy.core.multiarray.*``.
    # The legacy format stores the pickle uncompressed, so rename in place.
    checkpoint = load_checkpoint_safely(runner_checkpoint)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    assert b'numpy._core.multiarray' in data
    path = tmp_path / 'numpy1.pth'
    path.write_bytes(
        data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray'))

    loaded = load_checkpoint_safely(path)
    eta = loaded['message_hub']['runtime_info']['eta']
    assert eta == checkpoint['message_hub']['runtime_info']['eta']


def test_malicious_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'marker.txt'
    path = tmp_path / 'malicious.pth'
    code = f'open({str(marker)!r}, "w").write("code ran")'
    torch.save(dict(state_dict={}, meta=Payload(code)), path)

    with pytest.raises(UnsafeCheckpointError, match=re.escape(str(path))) \
            as info:
        load_checkpoint_safely(path)
    assert not marker.exists()
    # What was refused, and no advice to turn the safety off.
    assert '(Unsupported global: GLOBAL exec was not an allowed global by ' \
        'default).' in str(info.value)
    assert 'weights_only' not in str(info.value)
    assert 'safe_globals' not in str(info.value)

    # The file really is malicious: a full unpickle runs the payload.
    torch.load(path, weights_only=False)
    assert marker.read_text() == 'code ran'


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):

    class Lookup:

        def __reduce__(self):
            return getattr, (HistoryBuffer, '_set_default_statistics')

    path = tmp_path / 'getattr.pth'
    torch.save(dict(meta=Lookup()), path)
    with pytest.raises(
            UnsafeCheckpointError,
            match=r"\(getattr\(HistoryBuffer, '_set_default_statistics'\) "
            'is not in the checkpoint allow-list'):
        load_checkpoint_safely(path)


def test_blocked_module_is_named(tmp_path):

    class System:

        def __reduce__(self):
            return os.system, (f'touch {tmp_path / "marker"}', )

    path = tmp_path / 'system.pth'
    torch.save(dict(meta=System()), path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_safely(path)
    assert '(Trying to load unsupported GLOBAL posix.system whose module ' \
        'posix is blocked).' in str(info.value)
    assert 'weights_only' not in str(info.value)
    assert not (tmp_path / 'marker').exists()


@pytest.mark.parametrize('content', ['empty', 'truncated', 'text'])
def test_unreadable_checkpoint_is_named(runner_checkpoint, tmp_path, content):
    path = tmp_path / f'{content}.pth'
    path.write_bytes(
        dict(
            empty=b'',
            truncated=runner_checkpoint.read_bytes()[:5000],
            text=b'hello\n')[content])
    with pytest.raises(
            UnreadableCheckpointError,
            match=f"Cannot read checkpoint '{path}': it is empty, truncated "
            r'\(a copy or a save that did not finish\?\) or not a checkpoint'):
        load_checkpoint_safely(path)
