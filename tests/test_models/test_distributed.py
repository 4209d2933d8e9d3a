# Copyright (c) OpenMMLab. All rights reserved.
"""Queue and shuffle BN across two CPU processes (gloo); a two-process
run of ``tools/dist_train.sh`` resumed in one process. Every collective is
checked against NCCL's rules (``tests/strict_collectives.py``)."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from tests.strict_collectives import free_port, run_in_processes
from tools.data.motion_dataset import generate

WORLD_SIZE = 2
BATCH = 3


def _worker(rank: int, world_size: int) -> dict:
    from projects.fame.models.heads import MoCoHead
    from projects.fame.models.utils import (batch_shuffle_ddp,
                                            batch_unshuffle_ddp)
    torch.manual_seed(rank)  # different local data and head init per rank
    x = torch.arange(BATCH, dtype=torch.float32)[:, None] + 10 * rank
    shuffled, unshuffle = batch_shuffle_ddp(x)
    restored = batch_unshuffle_ddp(shuffled * 2, unshuffle)

    head = MoCoHead(in_channels=4, feat_dim=2, queue_len=8)
    keys = torch.full((BATCH, 2), float(rank))
    head.enqueue(keys)
    # A NaN key on one rank: no rank enqueues the step's keys.
    queue = head.queue.clone()
    head.enqueue(torch.full((BATCH, 2), float('nan') if rank else 1.))
    nan_keys_skipped = torch.equal(head.queue, queue)

    # A non-finite loss on one rank: every rank skips the update, so that
    # none waits in a gradient all-reduce for the other.
    from projects.fame.engine import SkipNonFiniteOptimWrapper
    model = torch.nn.Linear(2, 1)
    wrapper = SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    weight = model.weight.detach().clone()
    loss = model(torch.ones(1, 2)).sum()
    wrapper.update_params(loss * float('nan') if rank else loss)
    # The same with a fused SGD past its first step.
    fused = torch.nn.Linear(2, 1)
    fused_wrapper = SkipNonFiniteOptimWrapper(
        optimizer=torch.optim.SGD(
            fused.parameters(), lr=0.1, momentum=0.9, fused=True))
    fused_wrapper.update_params(fused(torch.ones(1, 2)).sum())
    fused_weight = fused.weight.detach().clone()
    loss = fused(torch.ones(1, 2)).sum()
    fused_wrapper.update_params(loss * float('nan') if rank else loss)
    return dict(
        shuffled=shuffled,
        restored=restored,
        queue=head.queue.clone(),
        ptr=int(head.queue_ptr),
        nan_keys_skipped=nan_keys_skipped,
        update_skipped=torch.equal(model.weight, weight),
        fused_update_skipped=torch.equal(fused.weight, fused_weight),
        fused_skipped_steps=fused_wrapper.skipped_steps)


def test_queue_and_shuffle_bn_across_processes():
    results = run_in_processes(_worker, WORLD_SIZE)

    global_batch = torch.cat([
        torch.arange(BATCH, dtype=torch.float32)[:, None] + 10 * r
        for r in range(WORLD_SIZE)
    ])
    # Each process gets a slice of one global permutation of the batch.
    shuffled = torch.cat([results[r]['shuffled'] for r in range(WORLD_SIZE)])
    assert sorted(shuffled.flatten().tolist()) == \
        global_batch.flatten().tolist()
    for rank in range(WORLD_SIZE):
        local = global_batch[rank * BATCH:(rank + 1) * BATCH]
        assert torch.equal(results[rank]['restored'], local * 2)
    # Every process enqueued the keys of all processes, in rank order.
    assert torch.equal(results[0]['queue'], results[1]['queue'])
    assert results[0]['ptr'] == results[1]['ptr'] == WORLD_SIZE * BATCH
    expected = torch.cat(
        [torch.full((BATCH, 2), float(r)) for r in range(WORLD_SIZE)])
    assert torch.equal(results[0]['queue'][:WORLD_SIZE * BATCH], expected)
    for rank in range(WORLD_SIZE):
        assert results[rank]['nan_keys_skipped']
        assert results[rank]['update_skipped']
        assert results[rank]['fused_update_skipped']
        assert results[rank]['fused_skipped_steps'] == 1


def _preprocessed_views_worker(rank: int, world_size: int) -> list:
    from mmaction.structures import ActionDataSample

    from projects.fame.models.data_preprocessors import \
        ContrastiveDataPreprocessor
    from projects.fame.models.utils import (batch_shuffle_ddp,
                                            batch_unshuffle_ddp)
    torch.manual_seed(rank)
    clips = [
        torch.randint(0, 256, (1, 3, 8, 32, 32), dtype=torch.uint8)
        for _ in range(2 * BATCH)
    ]
    data = dict(inputs=clips, data_samples=[ActionDataSample() for _ in clips])
    views = ContrastiveDataPreprocessor()(data, training=True)['inputs']
    restored = []
    for view in views:
        shuffled, unshuffle = batch_shuffle_ddp(view)
        restored.append(
            torch.equal(batch_unshuffle_ddp(shuffled, unshuffle), view))
    return restored


def test_preprocessed_views_pass_shuffle_bn_under_nccl_rules():
    # The training views of the data preprocessor go through shuffle BN's
    # collectives as NCCL wants them (contiguous), and come back.
    assert run_in_processes(_preprocessed_views_worker, WORLD_SIZE) == \
        [[True, True]] * WORLD_SIZE


def _initial_queue_worker(rank: int, world_size: int) -> torch.Tensor:
    from projects.fame.models.heads import MoCoHead
    torch.manual_seed(rank)  # --diff-rank-seed
    return MoCoHead(in_channels=4, feat_dim=8, queue_len=16).queue


def test_initial_queue_is_the_same_on_every_rank_whatever_the_seeds():
    # MMEngine wraps the model with broadcast_buffers=False: nothing else
    # makes the queues of the processes agree before the first keys.
    queues = run_in_processes(_initial_queue_worker, WORLD_SIZE)
    assert torch.equal(queues[0], queues[1])
    assert torch.allclose(queues[0].norm(dim=1), torch.ones(16))


# --------------------------------------------------------------------------
# tools/dist_train.sh: 2 CPU processes, then resumed in 1
# --------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]

VIDEOS, VIDEOS_PER_RANK, QUEUE_LEN = 8, 2, 48
DIST_ITERS = VIDEOS // (VIDEOS_PER_RANK * WORLD_SIZE)  # one epoch

# Saves each rank's queue, pointer and key encoder after every step; checks
# every collective of the run against NCCL's rules.
DUMP_HOOK = """
import torch
from tests.strict_collectives import clear_records, install, records

install()  # imported before the process group starts
from mmaction.registry import HOOKS
from mmengine.hooks import Hook


@HOOKS.register_module()
class DumpMoCoStateHook(Hook):

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model.module
        torch.save(
            dict(
                checked=[(r.name, r.site) for r in records()],
                queue=model.head.queue,
                ptr=model.head.queue_ptr,
                key_encoder=dict(model.key_encoder.named_parameters())),
            f'{self.out_dir}/rank{runner.rank}_iter{runner.iter + 1}.pth')
        clear_records()
"""

CONFIG = """
_base_ = [{base!r}]
custom_imports = dict(imports=['projects.fame', 'dump_moco_state_hook'])
custom_hooks = [
    dict(type='BadVideoHook'),
    dict(type='PretrainConfigCheckHook'),
    dict(type='DumpMoCoStateHook', out_dir={dumps!r}),
]
model = dict(
    head=dict(in_channels=64, queue_len={queue_len}))
train_dataloader = dict(
    batch_size={batch},
    num_workers=0,
    persistent_workers=False,
    prefetch_factor=None,
    dataset=dict(ann_file={ann_file!r}, data_prefix=dict(video={videos!r})))
train_cfg = dict(max_epochs=1)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(logger=dict(interval=1))
"""


def test_dist_train_on_cpu_then_resume_in_one_process(tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from projects.fame.utils import load_checkpoint_safely
    generate(str(tmp_path / 'motion'), size='tiny', seed=0, progress=False)
    ann_file = tmp_path / 'motion' / f'pretrain_{VIDEOS}.txt'
    ann_file.write_text(''.join(
        (tmp_path / 'motion' / 'pretrain.txt').open().readlines()[:VIDEOS]))
    (tmp_path / 'dump_moco_state_hook.py').write_text(DUMP_HOOK)
    dumps = tmp_path / 'dumps'
    dumps.mkdir()
    config = tmp_path / 'fame_tiny_dist.py'
    config.write_text(
        CONFIG.format(
            base=str(ROOT / 'configs' / 'fame_r3d_tiny_motion.py'),
            dumps=str(dumps),
            queue_len=QUEUE_LEN,
            batch=VIDEOS_PER_RANK,
            ann_file=str(ann_file),
            videos=str(tmp_path / 'motion' / 'videos')))
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PORT=str(free_port()),
        PYTHONPATH=str(tmp_path))
    command = [
        'bash',
        str(ROOT / 'tools' / 'dist_train.sh'),
        str(config),
        str(WORLD_SIZE), '--work-dir',
        str(work_dir)
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    # Every rank ends every step with the same queue, pointer and key
    # encoder weights (BN statistics are per process, as shuffle BN wants).
    keys_per_step = 2 * VIDEOS_PER_RANK * WORLD_SIZE
    for step in range(1, DIST_ITERS + 1):
        ranks = [
            torch.load(dumps / f'rank{r}_iter{step}.pth', weights_only=True)
            for r in range(WORLD_SIZE)
        ]
        assert int(ranks[0]['ptr']) == step * keys_per_step % QUEUE_LEN
        for other in ranks[1:]:
            assert torch.equal(other['queue'], ranks[0]['queue'])
            assert torch.equal(other['ptr'], ranks[0]['ptr'])
            for name, value in ranks[0]['key_encoder'].items():
                assert torch.equal(other['key_encoder'][name], value), name
        # The step's collectives were checked: shuffle BN, the queue.
        sites = {site.split(':')[0] for _, site in ranks[0]['checked']}
        assert {
            'projects/fame/models/utils/shuffle_bn.py',
            'projects/fame/models/heads/moco_head.py'
        } <= sites
    checkpoint = load_checkpoint_safely(work_dir / 'epoch_1.pth')
    state = checkpoint['state_dict']
    assert not any(k.startswith('module.') for k in state)
    assert torch.equal(state['head.queue'], ranks[0]['queue'])
    assert int(state['key_encoder.steps']) == DIST_ITERS

    # Resume the 2-process checkpoint in this single process: one more
    # epoch, now of VIDEOS / VIDEOS_PER_RANK steps.
    monkeypatch.syspath_prepend(str(tmp_path))  # the config imports the hook
    cfg = Config.fromfile(str(config))
    cfg.custom_hooks = cfg.custom_hooks[:2]
    cfg.merge_from_dict(dict(work_dir=str(work_dir), resume=True))
    cfg.train_cfg.max_epochs = 2
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    assert runner.iter == DIST_ITERS + VIDEOS // VIDEOS_PER_RANK
    assert int(model.key_encoder.steps) == runner.iter
    start = DIST_ITERS * keys_per_step
    written = (runner.iter - DIST_ITERS) * 2 * VIDEOS_PER_RANK
    assert int(model.head.queue_ptr) == (start + written) % QUEUE_LEN
    # The slots written since the resume are new; all others still hold the
    # keys of the two-process run.
    untouched = torch.ones(QUEUE_LEN, dtype=torch.bool)
    untouched[(start + torch.arange(written)) % QUEUE_LEN] = False
    assert 0 < untouched.sum() < QUEUE_LEN
    assert torch.equal(model.head.queue[untouched],
                       state['head.queue'][untouched])
    assert torch.isfinite(model.head.queue).all()
