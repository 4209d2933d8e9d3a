# Copyright (c) OpenMMLab. All rights reserved.
"""Build MMAction2 video lists of Diving48 (V2).

From the official ``Diving48_V2_{train,test}.json`` (entries with
``vid_name`` and ``label``; the videos are already trimmed) to
``diving48_{train,val}_list_videos.txt``, lines ``vid_name.mp4 label``.

Usage::

    python tools/data/diving48/build_diving48_lists.py [--ann-dir DIR]
        [--video-dir DIR] [--out-dir DIR]
"""
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import video_lists  # noqa: E402

NUM_CLASSES = 48


def read_annotations(path: str) -> List[video_lists.Entry]:
    """Entries ``(vid_name.mp4, label)`` of a Diving48 V2 JSON file."""
    try:
        items = json.loads(video_lists.read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from None
    if not isinstance(items, list) or not items:
        raise ValueError(f'{path} must hold a non-empty list of entries, '
                         f'got {type(items).__name__} {str(items)[:80]}')
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not {'vid_name', 'label'
                                              } <= set(item):
            raise ValueError(f'{path}: entry {index} lacks "vid_name" or '
                             f'"label": {item!r}')
        name, label = item['vid_name'], item['label']
        if not isinstance(name, str) or not name or name.split() != [name]:
            raise ValueError(f'{path}: entry {index} has vid_name {name!r}, '
                             'not a name without spaces')
        # ``True`` is an int too.
        if type(label) is not int or not 0 <= label < NUM_CLASSES:
            raise ValueError(f'{path}: entry {index} ({name}) has label '
                             f'{label!r}, not an integer in [0, '
                             f'{NUM_CLASSES})')
        entries.append((f'{name}.mp4', label))
    return entries


def build_lists(ann_dir: str, video_dir: str,
                out_dir: str) -> Dict[str, List[str]]:
    """Write the train and val lists; return each list's missing videos."""
    return video_lists.write_lists(
        'diving48', {
            (subset, None):
            read_annotations(
                osp.join(ann_dir, f'Diving48_V2_{official}.json'))
            for subset, official in (('train', 'train'), ('val', 'test'))
        }, video_dir, out_dir)


def main(argv: Optional[Sequence[str]] = None) -> None:
    video_lists.run_converter(
        build_lists,
        'diving48',
        __doc__,
        'folder of Diving48_V2_train.json and Diving48_V2_test.json',
        'folder of the <vid_name>.mp4 videos',
        argv=argv)


if __name__ == '__main__':
    main()
