# Copyright (c) OpenMMLab. All rights reserved.
"""Generate the synthetic motion dataset (``tools/data/motion_dataset.py``).

Usage::

    python tools/data/make_motion_dataset.py DIR [--size tiny|default]
        [--seed N] [--overwrite] [--actors default|small |
        --sprite-size LOW HIGH]
        [--background-videos DIR]
"""
import argparse
from typing import Optional, Sequence

from motion_dataset import ACTORS, SIZES, SPRITE_SIZE, generate


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Generate the dataset and print a summary."""
    parser = argparse.ArgumentParser(
        description='Generate the synthetic motion dataset')
    add = parser.add_argument
    add('root', help='output folder')
    add('--size', choices=list(SIZES), default='default', help='dataset size')
    add('--seed', type=int, default=0, help='random seed')
    actors = parser.add_mutually_exclusive_group()
    actors.add_argument(
        '--actors',
        choices=list(ACTORS),
        help='a named range of --sprite-size: ' +
        ', '.join(f'{name} {low} {high}'
                  for name, (low, high) in ACTORS.items()))
    actors.add_argument(
        '--sprite-size',
        type=float,
        nargs=2,
        default=SPRITE_SIZE,
        metavar=('LOW', 'HIGH'),
        help='range of the sprites\' diameter, a fraction of the frame side '
        f'(default {SPRITE_SIZE[0]} {SPRITE_SIZE[1]})')
    add('--overwrite',
        action='store_true',
        help='replace a dataset that already exists in the folder')
    add('--background-videos',
        metavar='DIR',
        help='folder of videos to crop half the backgrounds from (default: '
        'textures only)')
    args = parser.parse_args(argv)
    if args.actors is not None:
        args.sprite_size = ACTORS[args.actors]
    try:
        summary = generate(
            args.root,
            size=args.size,
            seed=args.seed,
            overwrite=args.overwrite,
            sprite_size=tuple(args.sprite_size),
            background_videos=args.background_videos)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    print(f'Dataset in {summary["root"]}: {len(summary["classes"])} classes, '
          f'videos under {summary["video_dir"]}')
    for name, path in summary['lists'].items():
        print(f'  {summary["counts"][name]:5d} videos  {path}')


if __name__ == '__main__':
    main()
