# Copyright (c) OpenMMLab. All rights reserved.
"""Write MMAction2 video lists, leaving out and reporting missing videos.

Shared by the converters in ``tools/data/{ucf101,hmdb51,diving48}``: each
turns a dataset's official annotations into ``(path, label)`` entries, and
:func:`write_video_lists` checks that every video exists before a training
run would trip over it.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmengine.utils import ProgressBar

Entry = Tuple[str, int]  # (video path relative to the video folder, label)
MAX_NAMED = 20  # missing videos named per list on the console


def write_video_list(entries: Sequence[Entry], video_dir: str,
                     out_file: str) -> List[str]:
    """Write ``path label`` lines of the entries whose video exists.

    Args:
        entries (Sequence[tuple[str, int]]): Videos and labels.
        video_dir (str): The folder the paths are relative to.
        out_file (str): The list to write.

    Returns:
        list[str]: The paths of the missing videos.

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
    with open(out_file, 'w') as f:
        f.writelines(present)
    print(f'wrote {len(present)} videos to {out_file}')
    return missing


def write_video_lists(lists: Dict[str, Sequence[Entry]], video_dir: str,
                      missing_report: str) -> Dict[str, List[str]]:
    """Write several lists; name and count the missing videos of each.

    Missing videos are left out of the lists, printed (the first
    ``MAX_NAMED`` of each list) and all written to ``missing_report`` as
    ``list_name path`` lines; the report is removed when none is missing.

    Args:
        lists (dict[str, Sequence[tuple[str, int]]]): Entries per output
            file.
        video_dir (str): The folder the paths are relative to.
        missing_report (str): Where to list all missing videos.

    Returns:
        dict[str, list[str]]: The missing videos of each output file.
    """
    missing = {
        out_file: write_video_list(entries, video_dir, out_file)
        for out_file, entries in lists.items()
    }
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
