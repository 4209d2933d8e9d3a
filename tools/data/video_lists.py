# Copyright (c) OpenMMLab. All rights reserved.
"""Write MMAction2 video lists, leaving out and reporting missing videos.

Shared by the converters in ``tools/data/{ucf101,hmdb51,diving48}``: each
turns a dataset's official annotations into ``(path, label)`` entries, and
:func:`write_video_lists` checks that every video exists before a training
run would trip over it; :func:`run_converter` is their common command line.
"""
import argparse
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.utils import ProgressBar

Entry = Tuple[str, int]  # (video path relative to the video folder, label)
MAX_NAMED = 20  # missing videos named per list on the console


def read_text(path: str) -> str:
    """The text of an annotation file.

    Raises:
        ValueError: Naming the file if it is not UTF-8 text.
    """
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except UnicodeDecodeError as err:
        raise ValueError(f'{path} is not UTF-8 text: {err}') from None


def find_videos(entries: Sequence[Entry], video_dir: str,
                out_file: str) -> Tuple[List[str], List[str]]:
    """The ``path label`` lines of the entries whose video exists.

    Args:
        entries (Sequence[tuple[str, int]]): Videos and labels.
        video_dir (str): The folder the paths are relative to.
        out_file (str): The list they are for, to name it.

    Returns:
        tuple[list[str], list[str]]: The lines, and the paths of the
        missing videos.

    Raises:
        FileNotFoundError: If no video of the list exists.
    """
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


def write_video_lists(lists: Dict[str, Sequence[Entry]], video_dir: str,
                      missing_report: str) -> Dict[str, List[str]]:
    """Write several lists; name and count the missing videos of each.

    Every list is checked before any is written, so that an unusable one
    leaves the old lists as they were. Missing videos are left out of the
    lists, printed (the first ``MAX_NAMED`` of each list) and all written to
    ``missing_report`` as ``list_name path`` lines; the report is removed
    when none is missing.

    Args:
        lists (dict[str, Sequence[tuple[str, int]]]): Entries per output
            file.
        video_dir (str): The folder the paths are relative to.
        missing_report (str): Where to list all missing videos.

    Returns:
        dict[str, list[str]]: The missing videos of each output file.
    """
    found = {
        out_file: find_videos(entries, video_dir, out_file)
        for out_file, entries in lists.items()
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
    if lines:
        with open(missing_report, 'w') as f:
            f.writelines(lines)
        print(f'{len(lines)} missing in all, listed in '
              f'{missing_report}')
    elif osp.exists(missing_report):
        os.remove(missing_report)
    return missing


def run_converter(build_lists: Callable[..., Dict[str, List[str]]],
                  dataset: str,
                  description: str,
                  ann_help: str,
                  video_help: str,
                  splits: Optional[Sequence[int]] = None,
                  argv: Optional[Sequence[str]] = None) -> None:
    """Parse a converter's command line and run its ``build_lists``.

    The flags are ``--ann-dir``, ``--video-dir`` and ``--out-dir``, by
    default under ``data/<dataset>``, and ``--splits`` for datasets with
    official splits. Unreadable or malformed annotations end the program
    with their message rather than a traceback.

    Args:
        build_lists (Callable): ``build_lists(ann_dir, video_dir, out_dir)``
            (and ``splits=`` where ``splits`` is given) of the converter.
        dataset (str): The dataset's folder name under ``data/``.
        description (str): What the converter does, for ``--help``.
        ann_help (str): Which annotation files ``--ann-dir`` holds.
        video_help (str): How the videos under ``--video-dir`` are laid out.
        splits (Sequence[int], optional): The dataset's official splits,
            all written by default. Defaults to None (no ``--splits``).
        argv (Sequence[str], optional): The arguments; ``sys.argv[1:]``
            when None.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        '--ann-dir', default=f'data/{dataset}/annotations', help=ann_help)
    parser.add_argument(
        '--video-dir', default=f'data/{dataset}/videos', help=video_help)
    parser.add_argument(
        '--out-dir',
        default=f'data/{dataset}',
        help='where to write the lists')
    if splits is not None:
        parser.add_argument(
            '--splits', type=int, nargs='+', default=splits, choices=splits)
    args = parser.parse_args(argv)
    split_kwargs = {} if splits is None else dict(splits=args.splits)
    try:
        build_lists(args.ann_dir, args.video_dir, args.out_dir, **split_kwargs)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')
