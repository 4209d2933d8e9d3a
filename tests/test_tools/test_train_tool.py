# Copyright (c) OpenMMLab. All rights reserved.
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from mmengine.config import Config

from tests.tool_loader import REPO_ROOT, TOOLS_DIR, load_tool
from tools import cli

TINY_CONFIG = """
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
val_dataloader = dict(batch_size=2)
val_evaluator = dict(type='AccMetric')
test_evaluator = dict(type='AccMetric')
auto_scale_lr = dict(enable=False, base_batch_size=64)
"""


@pytest.fixture(scope='module')
def train_tool() -> ModuleType:
    return load_tool('train')


@pytest.fixture
def config_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv('LOCAL_RANK', '0')
    path = tmp_path / 'fame_tiny.py'
    path.write_text(TINY_CONFIG)
    return path


def merged(tool: ModuleType, config_file: Path, *flags: str) -> Config:
    args = tool.parse_args([str(config_file), *flags])
    return tool.merge_args(Config.fromfile(str(config_file)), args)


def test_defaults(train_tool, config_file):
    cfg = merged(train_tool, config_file)
    assert cfg.work_dir == os.path.join('./work_dirs', 'fame_tiny')
    assert cfg.launcher == 'none'
    assert 'resume' not in cfg
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert cfg.randomness == dict(
        seed=None, diff_rank_seed=False, deterministic=False)
    assert cfg.val_cfg == dict()
    assert cfg.auto_scale_lr.enable is False


def test_no_validate_with_validation_options(train_tool, config_file):
    cfg = merged(train_tool, config_file, '--no-validate', '--cfg-options',
                 'val_dataloader.batch_size=4', 'val_cfg.k=5')
    assert cfg.val_cfg is None and cfg.val_dataloader is None


def test_seed_flag_overrides_config_randomness(train_tool, config_file):
    config_file.write_text(config_file.read_text() +
                           '\nrandomness = dict(seed=0)\n')
    assert merged(train_tool, config_file).randomness.seed == 0
    assert merged(train_tool, config_file, '--seed', '5').randomness.seed == 5


def test_flags(train_tool, config_file, tmp_path):
    cfg = merged(train_tool, config_file, '--work-dir', str(tmp_path / 'wd'),
                 '--amp', '--no-validate', '--auto-scale-lr', '--seed', '3',
                 '--diff-rank-seed', '--deterministic', '--launcher',
                 'pytorch', '--cfg-options', 'train_cfg.max_epochs=5',
                 'optim_wrapper.optimizer.lr=0.5')
    assert cfg.work_dir == str(tmp_path / 'wd')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.val_cfg is None
    assert cfg.val_dataloader is None
    assert cfg.val_evaluator is None
    assert cfg.auto_scale_lr.enable is True
    assert cfg.randomness == dict(
        seed=3, diff_rank_seed=True, deterministic=True)
    assert cfg.launcher == 'pytorch'
    assert cfg.train_cfg.max_epochs == 5
    assert cfg.optim_wrapper.optimizer.lr == 0.5


def test_resume(train_tool, config_file):
    cfg = merged(train_tool, config_file, '--resume')
    assert cfg.resume is True
    assert cfg.load_from is None

    cfg = merged(train_tool, config_file, '--resume', 'work/iter_2.pth')
    assert cfg.resume is True
    assert cfg.load_from == 'work/iter_2.pth'


def test_amp_rejects_custom_wrapper(train_tool, config_file):
    args = train_tool.parse_args([str(config_file), '--amp'])
    cfg = Config.fromfile(str(config_file))
    cfg.optim_wrapper.type = 'MyWrapper'
    with pytest.raises(
            ValueError,
            match="^optim_wrapper.type 'MyWrapper' has no mixed-precision "
            'twin for --amp'):
        train_tool.merge_args(cfg, args)


def test_cfg_options_merged_last(train_tool, config_file):
    cfg = merged(train_tool, config_file, '--amp', '--work-dir', 'cli',
                 '--cfg-options', 'optim_wrapper.type=MyWrapper',
                 'work_dir=options')
    assert cfg.optim_wrapper.type == 'MyWrapper'
    assert cfg.work_dir == 'options'


def test_missing_config_lists_close_matches(train_tool, tmp_path):
    config_root = tmp_path / 'configs'
    (config_root / 'pretrain').mkdir(parents=True)
    for name in ('fame_moco_r2plus1d_k400.py', 'fame_moco_i3d_k400.py'):
        (config_root / 'pretrain' / name).write_text('')
    (config_root / 'unrelated_schedule.py').write_text('')
    (config_root / '_base_').mkdir()
    (config_root / '_base_' / 'fame_moco_r2plus1d_k40.py').write_text('')

    with pytest.raises(FileNotFoundError) as info:
        cli.find_config('fame_moco_r2plus1d_k40.py', str(config_root))
    message = str(info.value)
    assert 'fame_moco_r2plus1d_k40.py' in message
    assert 'configs/pretrain/fame_moco_r2plus1d_k400.py' in message
    assert 'unrelated' not in message
    assert '_base_' not in message

    with pytest.raises(FileNotFoundError, match='not found: zzz.py$'):
        cli.find_config('zzz.py', str(config_root))
    assert cli.find_config(
        str(config_root / 'unrelated_schedule.py'), str(config_root))


def test_cli_missing_config_from_other_dir(tmp_path):
    # Run from elsewhere: the tool must still import ``projects.fame``.
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run(
        [sys.executable,
         str(TOOLS_DIR / 'train.py'), 'no_such_config.py'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120)
    assert result.returncode == 1
    assert 'Config file not found: no_such_config.py' in result.stderr


def test_test_tool_merge(config_file, tmp_path):
    test_tool = load_tool('test')
    args = test_tool.parse_args([
        str(config_file), 'ckpt.pth', '--dump',
        str(tmp_path / 'preds.pkl'), '--cfg-options', 'work_dir=from_cli'
    ])
    cfg = test_tool.merge_args(Config.fromfile(str(config_file)), args)
    assert cfg.load_from == 'ckpt.pth'
    assert cfg.work_dir == 'from_cli'
    assert cfg.default_hooks.checkpoint is None  # claims no work dir
    assert cfg.test_evaluator == [
        dict(type='AccMetric'),
        dict(type='DumpResults', out_file_path=str(tmp_path / 'preds.pkl'))
    ]
    with pytest.raises(AssertionError, match='pkl'):
        test_tool.merge_args(
            Config.fromfile(str(config_file)),
            test_tool.parse_args([str(config_file), 'c.pth', '--dump', 'x']))


@pytest.mark.parametrize('script',
                         sorted(p.name for p in TOOLS_DIR.glob('*.sh')))
def test_shell_syntax(script):
    subprocess.run(['bash', '-n', str(TOOLS_DIR / script)], check=True)


def fake_command(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text('#!/usr/bin/env bash\n'
                    'echo "PYTHONPATH=$PYTHONPATH"\n'
                    'printf "%s\\n" "$@"\n')
    path.chmod(0o755)
    return path


def test_dist_train_command_line(tmp_path):
    python = fake_command(tmp_path, 'python')
    env = dict(
        os.environ, PYTHON=str(python), NNODES='2', NODE_RANK='1', PORT='123')
    env.pop('PYTHONPATH', None)
    command = ['bash', str(TOOLS_DIR / 'dist_train.sh'), 'a.py', '4', '--amp']
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == f'PYTHONPATH={REPO_ROOT}'
    assert lines[1:] == [
        '-m', 'torch.distributed.run', '--nnodes=2', '--node_rank=1',
        '--master_addr=127.0.0.1', '--master_port=123', '--nproc_per_node=4',
        str(TOOLS_DIR / 'train.py'), 'a.py', '--launcher', 'pytorch', '--amp'
    ]


def test_slurm_train_command_line(tmp_path):
    fake_command(tmp_path, 'srun')
    env = dict(
        os.environ,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        PYTHON='python',
        GPUS='2',
        SRUN_ARGS='--quotatype=auto --exclusive')
    script = str(TOOLS_DIR / 'slurm_train.sh')
    command = ['bash', script, 'part', 'job', 'a.py', 'wd', '--amp']
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        '-p', 'part', '--job-name=job', '--gres=gpu:2', '--ntasks=2',
        '--ntasks-per-node=2', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--quotatype=auto', '--exclusive', 'bash', '-c',
        'export MASTER_PORT=${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 10000))}',
        'exec "$@"', 'bash', 'python', '-u',
        str(TOOLS_DIR / 'train.py'), 'a.py', '--launcher', 'slurm',
        '--work-dir', 'wd', '--amp'
    ]


# srun, running its command as in one task of job 123456.
FAKE_SRUN = '''#!/usr/bin/env bash
while [[ $1 == -* ]]; do
    if [[ $1 == -p ]]; then shift; fi
    shift
done
SLURM_JOB_ID=123456 exec "$@"
'''


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
@pytest.mark.parametrize('ports, expected', [
    (dict(), '23456'),
    (dict(PORT='12345'), '12345'),
    (dict(MASTER_PORT='23000', PORT='12345'), '23000'),
])
def test_slurm_master_port_per_job(tmp_path, script, ports, expected):
    # MMEngine's slurm launcher falls back to 29500 for every job without
    # MASTER_PORT: two jobs on one node collide.
    srun = tmp_path / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(0o755)
    python = tmp_path / 'python'
    python.write_text('#!/usr/bin/env bash\n'
                      'echo "MASTER_PORT=${MASTER_PORT:-unset}"\n')
    python.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        PYTHON=str(python),
        GPUS='2',
        **ports)
    for name in ('MASTER_PORT', 'PORT', 'SLURM_JOB_ID'):
        if name not in ports:
            env.pop(name, None)
    command = ['bash', str(TOOLS_DIR / script), 'part', 'job', 'a.py', 'b']
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [f'MASTER_PORT={expected}']


@pytest.mark.parametrize('launcher, args, tail', [
    ('dist_test.sh', ['a.py', 'c.pth', '4', '--dump', 'p.pkl'],
     ['a.py', '--launcher', 'pytorch', 'c.pth', '--dump', 'p.pkl']),
    ('slurm_test.sh', ['part', 'job', 'a.py', 'c.pth', '--dump', 'p.pkl'],
     ['a.py', '--launcher', 'slurm', 'c.pth', '--dump', 'p.pkl']),
])
def test_test_launchers_run_test_py(tmp_path, launcher, args, tail):
    python = fake_command(tmp_path, 'python')
    fake_command(tmp_path, 'srun')
    env = dict(
        os.environ,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        PYTHON=str(python),
        GPUS='4')
    result = subprocess.run(['bash', str(TOOLS_DIR / launcher), *args],
                            env=env,
                            capture_output=True,
                            text=True,
                            check=True)
    lines = result.stdout.splitlines()
    start = lines.index(str(TOOLS_DIR / 'test.py'))
    assert lines[start + 1:] == tail
    # test.py reads the checkpoint after the launcher flag as well
    parsed = load_tool('test').parse_args(tail)
    assert (parsed.config, parsed.checkpoint, parsed.launcher) == (
        'a.py', 'c.pth', tail[2])


def test_launchers_default_to_the_installed_venv(tmp_path):
    # After tools/install.sh, PYTHON need not be set: the repository's
    # .venv is used when it exists.
    env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}/usr/bin:/bin')
    env.pop('PYTHON', None)
    fake_command(tmp_path, 'srun')
    result = subprocess.run(
        ['bash', str(TOOLS_DIR / 'slurm_train.sh'), 'p', 'j', 'a.py'],
        env=env,
        capture_output=True,
        text=True,
        check=True)
    venv = REPO_ROOT / '.venv' / 'bin' / 'python'
    expected = str(venv) if venv.exists() else 'python'
    assert expected in result.stdout.splitlines()
