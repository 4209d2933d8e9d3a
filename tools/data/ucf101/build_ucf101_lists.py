# Copyright (c) OpenMMLab. All rights reserved.
"""Build MMAction2 video lists of the three UCF101 splits.

From the official ``classInd.txt``, ``trainlist0N.txt`` and
``testlist0N.txt`` to ``ucf101_{train,val}_split_N_videos.txt``, lines
``Class/v_Class_gXX_cYY.avi label``, labels from 0 in ``classInd.txt``.

Usage::

    python tools/data/ucf101/build_ucf101_lists.py [--ann-dir DIR]
        [--video-dir DIR] [--out-dir DIR] [--splits 1 2 3]
"""
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import video_lists  # noqa: E402

SPLITS = (1, 2, 3)
NUM_CLASSES = 101


def read_class_index(path: str) -> Dict[str, int]:
    """Map class names to labels from 0, from ``classInd.txt`` (from 1)."""
    classes = {}
    for line_no, line in enumerate(
            video_lists.read_text(path).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[0] != str(len(classes) + 1):
            raise ValueError(f'{path}:{line_no}: expected "'
                             f'{len(classes) + 1} ClassName", got "{line}"')
        classes[fields[1]] = len(classes)
    if len(classes) != NUM_CLASSES:
        raise ValueError(f'{path} lists {len(classes)} classes; UCF101 has '
                         f'{NUM_CLASSES}')
    return classes


def read_split_list(path: str, classes: Dict[str,
                                             int]) -> List[video_lists.Entry]:
    """Entries of a ``trainlist0N.txt`` or ``testlist0N.txt``, labelled by
    class folder (a label column must agree)."""
    entries = []
    for line_no, line in enumerate(
            video_lists.read_text(path).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        video, class_name = fields[0], fields[0].split('/')[0]
        if len(fields) > 2:
            raise ValueError(f'{path}:{line_no}: expected "Class/video.avi" '
                             f'and at most a label, got "{line}"')
        if class_name not in classes:
            raise ValueError(f'{path}:{line_no}: class folder '
                             f'"{class_name}" is not in classInd.txt')
        label = classes[class_name]
        if len(fields) > 1 and fields[1] != str(label + 1):
            raise ValueError(
                f'{path}:{line_no}: label {fields[1]} disagrees with '
                f'classInd.txt ({label + 1} for {class_name})')
        entries.append((video, label))
    if not entries:
        raise ValueError(f'{path} lists no videos')
    return entries


def build_lists(ann_dir: str,
                video_dir: str,
                out_dir: str,
                splits: Sequence[int] = SPLITS) -> Dict[str, List[str]]:
    """Write the train and val lists of ``splits``; return each list's
    missing videos."""
    classes = read_class_index(osp.join(ann_dir, 'classInd.txt'))
    return video_lists.write_lists(
        'ucf101', {
            (subset, split):
            read_split_list(
                osp.join(ann_dir, f'{official}{split:02d}.txt'), classes)
            for split in splits
            for subset, official in (('train', 'trainlist'),
                                     ('val', 'testlist'))
        }, video_dir, out_dir)


def main(argv: Optional[Sequence[str]] = None) -> None:
    video_lists.run_converter(
        build_lists,
        'ucf101',
        __doc__,
        'folder of classInd.txt, trainlist0N.txt and testlist0N.txt',
        'folder of the class folders of .avi videos',
        SPLITS,
        argv=argv)


if __name__ == '__main__':
    main()
