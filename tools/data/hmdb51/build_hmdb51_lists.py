# Copyright (c) OpenMMLab. All rights reserved.
"""Build MMAction2 video lists of the three HMDB51 splits.

From the official ``<class>_test_split{1,2,3}.txt`` (lines ``video.avi N``:
1 train, 2 test, 0 unused) to ``hmdb51_{train,val}_split_N_videos.txt``,
lines ``class/video.avi label``, labels in sorted class-name order.

Usage::

    python tools/data/hmdb51/build_hmdb51_lists.py [--ann-dir DIR]
        [--video-dir DIR] [--out-dir DIR] [--splits 1 2 3]
"""
import glob
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import video_lists  # noqa: E402

SPLIT_FILE = re.compile(r'^(?P<name>.+)_test_split(?P<split>[123])\.txt$')
SUBSETS = {'1': 'train', '2': 'val'}  # '0': not used in this split
SPLITS = (1, 2, 3)
NUM_CLASSES = 51


def find_classes(ann_dir: str) -> List[str]:
    """Sorted class names, from the names of the split files."""
    names = {
        match['name']
        for match in map(SPLIT_FILE.match,
                         map(osp.basename, glob.glob(f'{ann_dir}/*.txt')))
        if match
    }
    if not names:
        raise FileNotFoundError(
            f'no <class>_test_split<N>.txt file in {ann_dir}')
    if len(names) != NUM_CLASSES:
        # A stray README_test_split1.txt would be a class and shift labels.
        raise ValueError(
            f'{ann_dir} holds <class>_test_split<N>.txt files of '
            f'{len(names)} classes, HMDB51 has {NUM_CLASSES}: remove the '
            f'files that are not of a class ({", ".join(sorted(names))})')
    return sorted(names)


def read_split(
        ann_dir: str, classes: Sequence[str],
        split: int) -> Tuple[List[video_lists.Entry], List[video_lists.Entry]]:
    """Training and test entries of one split, from every class's file."""
    subsets: Dict[str, List[video_lists.Entry]] = {'train': [], 'val': []}
    for label, name in enumerate(classes):
        path = osp.join(ann_dir, f'{name}_test_split{split}.txt')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} is missing (class "{name}" has '
                                    'split files for other splits)')
        lines = video_lists.read_text(path).splitlines()
        for line_no, line in enumerate(lines, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in ('0', '1', '2'):
                raise ValueError(f'{path}:{line_no}: expected "video.avi '
                                 f'0|1|2", got "{line.strip()}"')
            if fields[1] in SUBSETS:
                subsets[SUBSETS[fields[1]]].append(
                    (f'{name}/{fields[0]}', label))
        if not any(line.strip() for line in lines):
            raise ValueError(f'{path} lists no videos')
    return subsets['train'], subsets['val']


def build_lists(ann_dir: str,
                video_dir: str,
                out_dir: str,
                splits: Sequence[int] = SPLITS) -> Dict[str, List[str]]:
    """Write the train and val lists of ``splits``; return each list's
    missing videos."""
    classes = find_classes(ann_dir)
    entries = {}
    for split in splits:
        train, val = read_split(ann_dir, classes, split)
        entries.update({('train', split): train, ('val', split): val})
    return video_lists.write_lists('hmdb51', entries, video_dir, out_dir)


def main(argv: Optional[Sequence[str]] = None) -> None:
    video_lists.run_converter(
        build_lists,
        'hmdb51',
        __doc__,
        'folder of the <class>_test_split<N>.txt files',
        'folder of the class folders of .avi videos',
        SPLITS,
        argv=argv)


if __name__ == '__main__':
    main()
