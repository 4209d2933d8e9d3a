# Copyright (c) OpenMMLab. All rights reserved.
"""FAME on any machine: generate a small video dataset, pretrain on it.

Runs the embedded default, ``configs/fame_r3d_tiny_motion.py``: writes
the synthetic motion dataset to ``--data-root`` if it holds none, pretrains
MoCo + FAME on it (CPU: minutes), prints the kNN accuracy reached on videos
over backgrounds it never saw, where the checkpoint is and what next.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from tools.data import motion_dataset  # noqa: E402

CONFIG = ROOT / 'configs' / 'fame_r3d_tiny_motion.py'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add('--data-root',
        default=str(ROOT / 'data' / 'motion'),
        help='dataset folder; generated when missing or empty')
    add('--size',
        choices=['tiny', 'default'],
        default='default',
        help='dataset size to generate')
    add('--work-dir',
        default=str(ROOT / 'work_dirs' / CONFIG.stem),
        help='where logs and checkpoints go')
    add('--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_cfg.max_epochs=2')
    args = parser.parse_args()
    try:
        data_root = motion_dataset.ensure_dataset(
            Path(args.data_root).resolve(), args.size)
    except (FileExistsError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    cfg = Config.fromfile(str(CONFIG))
    cfg.work_dir = args.work_dir
    cfg.merge_from_dict(motion_dataset.cfg_options(str(data_root)))
    # The last epoch's kNN monitor reads the videos over unseen backgrounds.
    cfg.merge_from_dict({
        'val_dataloader.dataset.ann_file':
        str(data_root / 'test_unseen_bg.txt'),
        **(args.cfg_options or {})
    })
    cfg.train_cfg.val_interval = cfg.train_cfg.max_epochs
    runner = Runner.from_cfg(cfg)
    runner.train()

    checkpoint = (Path(cfg.work_dir) / 'last_checkpoint').read_text().strip()
    classes = (data_root / 'classes.txt').read_text().split()
    knn = runner.message_hub.get_scalar('val/acc/top1').current()
    print(f"""
FAME pretraining finished.
  kNN top-1 on unseen backgrounds: {100 * knn:.1f} % (chance
      {100 / len(classes):.1f} %; the model never saw these backgrounds,
      only the sprite's motion tells the class)
  checkpoint: {checkpoint}
  log:        {runner.log_dir}

Next:
  - pretrain on Kinetics-400 (data in data/kinetics400/):
      python tools/train.py configs/fame_r2plus1d_k400.py
      bash tools/dist_train.sh configs/fame_r2plus1d_k400.py 8
  - the plain MoCo baseline: configs/*_moco.py
  - fine-tune: in a stock MMAction2 recognizer config with the same
    backbone, set load_from='{checkpoint}' (its backbone.* weights load,
    the rest is ignored) and train with tools/train.py.""")


if __name__ == '__main__':
    main()
