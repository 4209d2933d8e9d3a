# Copyright (c) OpenMMLab. All rights reserved.
import logging
from types import SimpleNamespace

import pytest
from mmaction.structures import ActionDataSample
from mmengine.logging import MessageHub, MMLogger

from projects.fame.engine import BadVideoHook
from projects.fame.engine.hooks import COUNTS_KEY

ITERS_PER_EPOCH = 5


class Records(logging.Handler):

    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def emit(self, record) -> None:
        self.messages.append(record.getMessage())


def fake_runner(max_bad_fraction=0.25, name='bad_video_hook'):
    logger = MMLogger.get_instance(name, log_level='INFO')
    records = Records()
    logger.addHandler(records)
    loop = SimpleNamespace(
        iter=0, epoch=0, dataloader=[None] * ITERS_PER_EPOCH)
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(
            dataset=SimpleNamespace(max_bad_fraction=max_bad_fraction)),
        train_loop=loop,
        message_hub=MessageHub.get_instance(name),
        logger=logger,
        epoch=0)
    return runner, records.messages


def batch(*skipped_lists):
    """Two clips per video; the first of each lists the skipped files."""
    samples = []
    for skipped in skipped_lists:
        first = ActionDataSample()
        first.set_metainfo(dict(skipped_videos=list(skipped)))
        samples += [first, ActionDataSample()]
    return dict(inputs=[None] * len(samples), data_samples=samples)


def run_iter(hook, runner, data):
    hook.after_train_iter(runner, 0, data)
    runner.train_loop.iter += 1


def test_counts_are_logged_each_epoch_and_reset():
    runner, messages = fake_runner(
        max_bad_fraction=0.5, name='bad_video_hook_log')
    hook = BadVideoHook(min_videos=1000)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    run_iter(hook, runner, batch([], ['a.mp4'], []))
    run_iter(hook, runner, batch(['b.mp4', 'c.mp4'], [], []))
    # Read: 6 videos delivered + 3 bad ones.
    assert runner.message_hub.get_info(COUNTS_KEY) == [9, 3]
    hook.after_train_epoch(runner)
    assert messages[-1] == ('Epoch 1: 3 of 9 videos read could not be used '
                            'and were replaced (33.33 %)')
    runner.train_loop.epoch = runner.epoch = 1
    hook.before_train_epoch(runner)
    run_iter(hook, runner, batch([]))
    hook.after_train_epoch(runner)
    assert messages[-1] == ('Epoch 2: 0 of 1 videos read could not be used '
                            'and were replaced (0.00 %)')


def test_stops_past_the_limit_naming_the_key():
    runner, _ = fake_runner(max_bad_fraction=0.25, name='bad_video_hook_stop')
    hook = BadVideoHook(min_videos=8)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    run_iter(hook, runner, batch([], ['a.mp4'], []))  # 1 of 4: under 8 read
    run_iter(hook, runner, batch(['b.mp4'], [], []))  # 2 of 8: at the limit
    with pytest.raises(RuntimeError) as info:
        run_iter(hook, runner, batch(['c.mp4', 'd.mp4'], [], []))  # 4 of 13
    message = str(info.value)
    assert 'train_dataloader.dataset.max_bad_fraction=0.25' in message
    assert '4 of the 13 videos read in epoch 1' in message


def test_epoch_end_checks_without_min_videos():
    runner, _ = fake_runner(max_bad_fraction=0.1, name='bad_video_hook_end')
    hook = BadVideoHook()
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    run_iter(hook, runner, batch(['a.mp4'], []))
    with pytest.raises(RuntimeError, match='max_bad_fraction=0.1'):
        hook.after_train_epoch(runner)


def test_resuming_mid_epoch_keeps_the_restored_counts():
    runner, messages = fake_runner(name='bad_video_hook_resume')
    hook = BadVideoHook()
    hook.before_train(runner)
    # As restored from a checkpoint saved after 2 of 5 iterations of epoch 2.
    runner.message_hub.update_info(COUNTS_KEY, [40, 1])
    runner.epoch = runner.train_loop.epoch = 1
    runner.train_loop.iter = ITERS_PER_EPOCH + 2
    hook.before_train_epoch(runner)
    assert runner.message_hub.get_info(COUNTS_KEY) == [40, 1]
    # At the start of the next epoch they are reset.
    runner.epoch = runner.train_loop.epoch = 2
    runner.train_loop.iter = 2 * ITERS_PER_EPOCH
    hook.before_train_epoch(runner)
    assert runner.message_hub.get_info(COUNTS_KEY) == [0, 0]


def test_datasets_without_a_limit_are_ignored():
    runner, _ = fake_runner(name='bad_video_hook_none')
    runner.train_dataloader.dataset = SimpleNamespace()
    hook = BadVideoHook()
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    run_iter(hook, runner, batch(['a.mp4']))
    hook.after_train_epoch(runner)
    assert runner.message_hub.get_info(COUNTS_KEY) is None
