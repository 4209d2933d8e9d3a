# Copyright (c) OpenMMLab. All rights reserved.
"""FAME on any machine: generate a small video dataset, pretrain on it.

Runs the embedded default, ``configs/fame_r3d_tiny_motion.py``: if
``--data-root`` holds no dataset yet, it writes the synthetic motion dataset
of ``tools/data/make_motion_dataset.py`` there (real mp4 files), then
pretrains MoCo + FAME on it through MMEngine's ``Runner`` (CPU: minutes),
prints what the model reached on videos over backgrounds it never saw (a kNN
vote over the labelled ``probe_train`` videos' frozen features, beside
chance), where the checkpoint is and what to do next.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tools' / 'data')]

from make_motion_dataset import cfg_options, generate  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

CONFIG = ROOT / 'configs' / 'fame_r3d_tiny_motion.py'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root',
        default=str(ROOT / 'data' / 'motion'),
        help='dataset folder; generated when missing or empty')
    parser.add_argument(
        '--size',
        choices=['tiny', 'default'],
        default='default',
        help='dataset size to generate')
    parser.add_argument(
        '--work-dir',
        default=str(ROOT / 'work_dirs' / CONFIG.stem),
        help='where logs and checkpoints go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_cfg.max_epochs=2')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data_root = Path(args.data_root).resolve()
    if not (data_root / 'pretrain.txt').is_file():
        print(f'Generating the {args.size} motion dataset in {data_root}')
        generate(str(data_root), size=args.size, seed=0)

    cfg = Config.fromfile(str(CONFIG))
    cfg.work_dir = args.work_dir
    cfg.merge_from_dict(cfg_options(str(data_root)))
    # The kNN monitor of the last epoch reads the videos over unseen
    # backgrounds, where only motion tells the class.
    cfg.merge_from_dict({
        'val_dataloader.dataset.ann_file':
        str(data_root / 'test_unseen_bg.txt')
    })
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
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
