# Copyright (c) OpenMMLab. All rights reserved.
"""What the converters in ``tools/data/{ucf101,hmdb51,diving48}`` share.

Each turns a dataset's official annotations into ``(path, label)`` entries;
:func:`write_lists` writes them as MMAction2 video lists, leaving out and
reporting the videos that are missing, and :func:`run_converter` is their
command line.
"""
import argparse
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.utils import ProgressBar

Entry = Tuple[str, int]  # (video path relative to the video folder, label)
MAX_NAMED = 20  # missing videos named per list on the console


def read_text(path: str) -> str:
    """The text of an annotation file; ValueError if it is not UTF-8."""
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except UnicodeDecodeError as err:
        raise ValueError(f'{path} is not UTF-8 text: {err}') from None


def find_videos(entries: Sequence[Entry], video_dir: str,
                out_file: str) -> Tuple[List[str], List[str]]:
    """The ``path label`` lines of the entries whose video exists, and the
    missing videos; FileNotFoundError if none exists."""
    present, missing = [], []
    progress = ProgressBar(len(entries))
    for video, label in entries:
        if osp.isfile(osp.join(video_dir, video)):
            present.append(f'{video} {label}\n')
        else:
            missing.append(video)
        progress.update()
    print()
    if not present:
        raise FileNotFoundError(
            f'none of the {len(entries)} videos of {osp.basename(out_file)} '
            f'is under {video_dir}; is the video folder right?')
    return present, missing


def write_lists(dataset: str, entries: Dict[Tuple[str, Optional[int]],
                                            Sequence[Entry]], video_dir: str,
                out_dir: str) -> Dict[str, List[str]]:
    """Write ``{dataset}_{subset}_split_{split}_videos.txt`` (or
    ``_list_`` for split None) and return each list's missing videos, which
    are left out, printed and listed in ``{dataset}_missing_videos.txt``.
    Every list is checked before any is written."""
    lists = {}
    for (subset, split), videos in entries.items():
        name = 'list' if split is None else f'split_{split}'
        lists[osp.join(out_dir,
                       f'{dataset}_{subset}_{name}_videos.txt')] = videos
    found = {
        out_file: find_videos(videos, video_dir, out_file)
        for out_file, videos in lists.items()
    }
    for out_file, (present, _) in found.items():
        with open(out_file, 'w') as f:
            f.writelines(present)
        print(f'wrote {len(present)} videos to {out_file}')
    missing = {out_file: videos for out_file, (_, videos) in found.items()}
    lines = []
    for out_file, videos in missing.items():
        name = osp.basename(out_file)
        lines += [f'{name} {video}\n' for video in videos]
        if videos:
            print(f'{name}: {len(videos)} of {len(lists[out_file])} videos '
                  f'not under {video_dir}, left out:')
            print(
                ''.join(f'  {video}\n' for video in videos[:MAX_NAMED]),
                end='')
            if len(videos) > MAX_NAMED:
                print(f'  ... and {len(videos) - MAX_NAMED} more')
    report = osp.join(out_dir, f'{dataset}_missing_videos.txt')
    if lines:
        with open(report, 'w') as f:
            f.writelines(lines)
        print(f'{len(lines)} missing in all, listed in {report}')
    elif osp.exists(report):
        os.remove(report)
    return missing


def run_converter(build_lists: Callable[..., Dict[str, List[str]]],
                  dataset: str,
                  doc: str,
                  ann_help: str,
                  video_help: str,
                  splits: Optional[Sequence[int]] = None,
                  argv: Optional[Sequence[str]] = None) -> None:
    """The command line of a converter: ``--ann-dir``, ``--video-dir`` and
    ``--out-dir``, by default under ``data/<dataset>``, and ``--splits``
    where the dataset has ``splits``, for ``build_lists(ann_dir, video_dir,
    out_dir[, splits])``; bad annotations end it with their message."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add = parser.add_argument
    add('--ann-dir', default=f'data/{dataset}/annotations', help=ann_help)
    add('--video-dir', default=f'data/{dataset}/videos', help=video_help)
    add('--out-dir', default=f'data/{dataset}', help='where to write lists')
    if splits is not None:
        add('--splits', type=int, nargs='+', default=splits, choices=splits)
    args = parser.parse_args(argv)
    split_kwargs = {} if splits is None else dict(splits=args.splits)
    try:
        build_lists(args.ann_dir, args.video_dir, args.out_dir, **split_kwargs)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')
