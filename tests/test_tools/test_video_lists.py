# Copyright (c) OpenMMLab. All rights reserved.
"""The annotation converters on fixtures in the official formats."""
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import List

import pytest

from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / 'tests' / 'data'


def load_converter(dataset: str, fixture_classes: bool = True) -> ModuleType:
    """The converter; its class count that of the fixtures by default."""
    tool = load_tool(f'data/{dataset}/build_{dataset}_lists')
    if fixture_classes and dataset != 'diving48':
        tool.NUM_CLASSES = 3
    return tool


def read_lines(path: Path) -> List[str]:
    return path.read_text().splitlines()


UCF101_TRAIN_1 = [
    'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0',
    'ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c02.avi 0',
    'HandstandPushups/v_HandStandPushups_g09_c03.avi 1',
    'HandstandPushups/v_HandStandPushups_g16_c01.avi 1',
    'YoYo/v_YoYo_g10_c01.avi 2',
    'YoYo/v_YoYo_g17_c02.avi 2',
]
UCF101_VAL_1 = [
    'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0',
    'HandstandPushups/v_HandStandPushups_g02_c01.avi 1',
    'YoYo/v_YoYo_g03_c04.avi 2',
]


@pytest.fixture
def ucf101(tmp_path):
    """The UCF101 fixture with every video present."""
    video_dir = tmp_path / 'videos'
    for name in ('trainlist01.txt', 'testlist01.txt'):
        lines = (FIXTURES / 'ucf101' / 'annotations' / name).read_text()
        for line in lines.splitlines():
            (video_dir / line.split()[0]).parent.mkdir(
                parents=True, exist_ok=True)
            (video_dir / line.split()[0]).touch()
    return FIXTURES / 'ucf101' / 'annotations', video_dir


def test_ucf101_lists(ucf101, tmp_path):
    ann_dir, video_dir = ucf101
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    load_converter('ucf101').main([
        '--ann-dir',
        str(ann_dir), '--video-dir',
        str(video_dir), '--out-dir',
        str(out_dir)
    ])
    assert read_lines(out_dir / 'ucf101_train_split_1_videos.txt') == \
        UCF101_TRAIN_1
    assert read_lines(out_dir / 'ucf101_val_split_1_videos.txt') == \
        UCF101_VAL_1
    # Split 3 holds out the third video of each class.
    assert read_lines(out_dir / 'ucf101_val_split_3_videos.txt') == [
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c02.avi 0',
        'HandstandPushups/v_HandStandPushups_g16_c01.avi 1',
        'YoYo/v_YoYo_g17_c02.avi 2',
    ]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        f'ucf101_{subset}_split_{split}_videos.txt'
        for subset in ('train', 'val') for split in (1, 2, 3))


def test_ucf101_missing_videos_are_left_out_and_reported(
        ucf101, tmp_path, capsys):
    ann_dir, video_dir = ucf101
    (video_dir / 'YoYo' / 'v_YoYo_g03_c04.avi').unlink()
    tool = load_converter('ucf101')
    missing = tool.build_lists(str(ann_dir), str(video_dir), str(tmp_path))
    out = capsys.readouterr().out
    assert read_lines(tmp_path / 'ucf101_val_split_1_videos.txt') == \
        UCF101_VAL_1[:2]
    assert 'YoYo/v_YoYo_g03_c04.avi' not in (
        tmp_path / 'ucf101_train_split_2_videos.txt').read_text()
    # Missing from val 1 and from train 2 and train 3.
    assert {
        Path(k).name: v
        for k, v in missing.items() if v
    } == {
        'ucf101_val_split_1_videos.txt': ['YoYo/v_YoYo_g03_c04.avi'],
        'ucf101_train_split_2_videos.txt': ['YoYo/v_YoYo_g03_c04.avi'],
        'ucf101_train_split_3_videos.txt': ['YoYo/v_YoYo_g03_c04.avi'],
    }
    assert ('ucf101_val_split_1_videos.txt: 1 of 3 videos not under '
            f'{video_dir}, left out:') in out
    assert '  YoYo/v_YoYo_g03_c04.avi' in out
    assert read_lines(tmp_path / 'ucf101_missing_videos.txt') == [
        'ucf101_val_split_1_videos.txt YoYo/v_YoYo_g03_c04.avi',
        'ucf101_train_split_2_videos.txt YoYo/v_YoYo_g03_c04.avi',
        'ucf101_train_split_3_videos.txt YoYo/v_YoYo_g03_c04.avi',
    ]


def test_ucf101_without_any_video_is_refused(tmp_path):
    with pytest.raises(
            SystemExit,
            match='error: none of the 6 videos of '
            f'ucf101_train_split_1_videos.txt is under {tmp_path / "no"}'):
        load_converter('ucf101').main([
            '--ann-dir',
            str(FIXTURES / 'ucf101' / 'annotations'), '--video-dir',
            str(tmp_path / 'no'), '--out-dir',
            str(tmp_path), '--splits', '1'
        ])


def test_ucf101_label_disagreeing_with_class_index_is_refused(tmp_path):
    ann_dir = tmp_path / 'annotations'
    shutil.copytree(FIXTURES / 'ucf101' / 'annotations', ann_dir)
    trainlist = ann_dir / 'trainlist01.txt'
    trainlist.write_text(trainlist.read_text().replace('g10_c01.avi 3',
                                                       'g10_c01.avi 2'))
    with pytest.raises(ValueError, match=r'trainlist01.txt:5: label 2'):
        load_converter('ucf101').build_lists(
            str(ann_dir), str(tmp_path), str(tmp_path), splits=[1])


def test_hmdb51_lists(tmp_path, capsys):
    ann_dir = FIXTURES / 'hmdb51' / 'annotations'
    video_dir = tmp_path / 'videos'
    expected_train_1 = [
        'brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi 0',
        'cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 1',
        'sword_exercise/Blade_Of_Fury_-_Scene_1_sword_exercise_f_cm_np1_ri_'
        'med_3.avi 2',
    ]
    expected_val_1 = [
        'brush_hair/Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi 0',
        'cartwheel/Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi'
        ' 1',
        'sword_exercise/Brave_Heart_sword_exercise_f_cm_np1_fr_bad_2.avi 2',
    ]
    for line in expected_train_1 + expected_val_1:
        (video_dir / line.split()[0]).parent.mkdir(parents=True, exist_ok=True)
        (video_dir / line.split()[0]).touch()
    missing = load_converter('hmdb51').build_lists(
        str(ann_dir), str(video_dir), str(tmp_path), splits=[1, 2])
    assert read_lines(tmp_path / 'hmdb51_train_split_1_videos.txt') == \
        expected_train_1
    assert read_lines(tmp_path / 'hmdb51_val_split_1_videos.txt') == \
        expected_val_1
    # Split 2: marks 2, 1, 1; the third video of each class does not exist.
    assert read_lines(tmp_path / 'hmdb51_val_split_2_videos.txt') == \
        expected_train_1
    assert read_lines(tmp_path / 'hmdb51_train_split_2_videos.txt') == \
        expected_val_1
    missing_train_2 = missing[str(tmp_path /
                                  'hmdb51_train_split_2_videos.txt')]
    assert missing_train_2 == [
        'brush_hair/brushing_hair_2_brush_hair_h_nm_np2_le_goo_0.avi',
        'cartwheel/Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi',
        'sword_exercise/Hamlet_sword_exercise_f_nm_np1_le_goo_0.avi',
    ]
    assert ('hmdb51_train_split_2_videos.txt: 3 of 6 videos not under '
            f'{video_dir}, left out:') in capsys.readouterr().out
    assert not (tmp_path / 'hmdb51_train_split_3_videos.txt').exists()


def test_hmdb51_missing_split_file_is_named(tmp_path):
    ann_dir = tmp_path / 'annotations'
    shutil.copytree(FIXTURES / 'hmdb51' / 'annotations', ann_dir)
    (ann_dir / 'cartwheel_test_split2.txt').unlink()
    with pytest.raises(
            FileNotFoundError, match='cartwheel_test_split2.txt is missing'):
        load_converter('hmdb51').build_lists(
            str(ann_dir), str(tmp_path), str(tmp_path), splits=[2])


def test_diving48_lists(tmp_path, capsys):
    ann_dir = FIXTURES / 'diving48' / 'annotations'
    video_dir = tmp_path / 'videos'
    video_dir.mkdir()
    for name in ('-mmq0PT-u8k_00155', '-mmq0PT-u8k_00161', '0jZYJuT3Aj0_00036',
                 '0ZQ3WvR3dJg_00002'):
        (video_dir / f'{name}.mp4').touch()
    load_converter('diving48').main([
        '--ann-dir',
        str(ann_dir), '--video-dir',
        str(video_dir), '--out-dir',
        str(tmp_path)
    ])
    assert read_lines(tmp_path / 'diving48_train_list_videos.txt') == [
        '-mmq0PT-u8k_00155.mp4 0',
        '-mmq0PT-u8k_00161.mp4 12',
        '0jZYJuT3Aj0_00036.mp4 47',
    ]
    assert read_lines(tmp_path / 'diving48_val_list_videos.txt') == [
        '0ZQ3WvR3dJg_00002.mp4 12'
    ]
    out = capsys.readouterr().out
    assert ('diving48_val_list_videos.txt: 1 of 2 videos not under '
            f'{video_dir}, left out:\n  2x1lIrgKxYo_00008.mp4\n') in out
    assert read_lines(tmp_path / 'diving48_missing_videos.txt') == [
        'diving48_val_list_videos.txt 2x1lIrgKxYo_00008.mp4'
    ]


def test_diving48_entry_without_label_is_named(tmp_path):
    ann_dir = tmp_path / 'annotations'
    shutil.copytree(FIXTURES / 'diving48' / 'annotations', ann_dir)
    entries = json.loads((ann_dir / 'Diving48_V2_test.json').read_text())
    del entries[1]['label']
    (ann_dir / 'Diving48_V2_test.json').write_text(json.dumps(entries))
    with pytest.raises(
            ValueError, match=r'Diving48_V2_test.json: entry 1 lacks'):
        load_converter('diving48').build_lists(
            str(ann_dir), str(tmp_path), str(tmp_path))


def copy_annotations(dataset: str, tmp_path: Path) -> Path:
    ann_dir = tmp_path / 'annotations'
    shutil.copytree(FIXTURES / dataset / 'annotations', ann_dir)
    return ann_dir


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def converter_error(dataset: str, ann_dir: Path, video_dir: Path,
                    out_dir: Path, **kwargs) -> str:
    with pytest.raises(SystemExit) as info:
        load_converter(dataset, **kwargs).main([
            '--ann-dir',
            str(ann_dir), '--video-dir',
            str(video_dir), '--out-dir',
            str(out_dir)
        ])
    return str(info.value.code)


UCF101_BAD = {
    'three_column_class_index':
    ('classInd.txt', '2 HandstandPushups\n', '2 HandstandPushups x\n',
     'classInd.txt:2: expected "2 ClassName", got "2 HandstandPushups x"'),
    'non_integer_label':
    ('trainlist01.txt', 'g08_c01.avi 1', 'g08_c01.avi one',
     'trainlist01.txt:1: label one disagrees'),
    'path_with_a_space':
    ('trainlist01.txt', 'v_ApplyEyeMakeup_g08', 'v_Apply EyeMakeup_g08',
     'trainlist01.txt:1: expected "Class/video.avi" and at most a label'),
    'empty_split_file': ('testlist03.txt', None, '', 'testlist03.txt lists '
                         'no videos'),
    'not_utf8': ('trainlist02.txt', None, b'\xff\xfe\n',
                 'trainlist02.txt is not UTF-8 text'),
}


@pytest.mark.parametrize('case', sorted(UCF101_BAD))
def test_ucf101_bad_annotations_are_named_and_nothing_written(
        ucf101, tmp_path, case):
    _, video_dir = ucf101
    ann_dir = copy_annotations('ucf101', tmp_path)
    name, old, new, message = UCF101_BAD[case]
    if old is None:
        getattr(ann_dir / name,
                'write_bytes' if isinstance(new, bytes) else 'write_text')(new)
    else:
        edit(ann_dir / name, old, new)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    (out_dir / 'ucf101_train_split_1_videos.txt').write_text('old\n')
    error = converter_error('ucf101', ann_dir, video_dir, out_dir)
    assert error.startswith(f'error: {ann_dir / name}')
    assert message in error
    # Validated before any list is (re)written.
    assert [p.name for p in out_dir.iterdir()] == \
        ['ucf101_train_split_1_videos.txt']
    assert read_lines(out_dir / 'ucf101_train_split_1_videos.txt') == ['old']


def test_ucf101_and_hmdb51_class_counts_are_checked(tmp_path):
    error = converter_error(
        'ucf101',
        FIXTURES / 'ucf101' / 'annotations',
        tmp_path,
        tmp_path,
        fixture_classes=False)
    assert error == (f'error: {FIXTURES}/ucf101/annotations/classInd.txt '
                     'lists 3 classes; UCF101 has 101')
    # A stray README_test_split1.txt would be a class and shift the labels.
    ann_dir = copy_annotations('hmdb51', tmp_path)
    (ann_dir / 'README_test_split1.txt').write_text('read me 0\n')
    error = converter_error('hmdb51', ann_dir, tmp_path, tmp_path)
    assert error == (
        f'error: {ann_dir} holds <class>_test_split<N>.txt files of 4 '
        'classes, HMDB51 has 3: remove the files that are not of a class '
        '(README, brush_hair, cartwheel, sword_exercise)')


def test_hmdb51_empty_split_file_is_named(tmp_path):
    ann_dir = copy_annotations('hmdb51', tmp_path)
    (ann_dir / 'cartwheel_test_split2.txt').write_text('\n')
    assert converter_error('hmdb51', ann_dir, tmp_path, tmp_path) == \
        f'error: {ann_dir}/cartwheel_test_split2.txt lists no videos'


def test_a_list_without_videos_leaves_every_list_unwritten(ucf101, tmp_path):
    ann_dir, video_dir = ucf101
    for video in (video_dir / 'YoYo').iterdir():
        video.unlink()
    ann_dir = copy_annotations('ucf101', tmp_path)
    (ann_dir / 'testlist03.txt').write_text('YoYo/v_YoYo_g17_c02.avi\n')
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    error = converter_error('ucf101', ann_dir, video_dir, out_dir)
    assert 'none of the 1 videos of ucf101_val_split_3_videos.txt' in error
    assert not list(out_dir.iterdir())  # not even the five lists before


DIVING48_BAD = {
    'boolean_label': ({'label': True}, 'entry 1 (-mmq0PT-u8k_00161) has '
                      'label True, not an integer in [0, 48)'),
    'string_label': ({'label': '3'}, "has label '3', not an integer"),
    'too_large_label': ({'label': 48}, 'has label 48, not an integer in '
                        '[0, 48)'),
    'negative_label': ({'label': -1}, 'has label -1, not an integer in '
                       '[0, 48)'),
    'name_with_a_space': ({'vid_name': 'a b'}, "entry 1 has vid_name 'a b', "
                          'not a name without spaces'),
    'not_a_list': ({'a': 1}, 'must hold a non-empty list of entries, got '
                   "dict {'a': 1}"),
    'empty_list': ([], 'must hold a non-empty list of entries, got list []'),
    'invalid_json': ('[{', 'is not valid JSON'),
    'not_utf8': (b'\xff[]', 'is not UTF-8 text'),
}


@pytest.mark.parametrize('case', sorted(DIVING48_BAD))
def test_diving48_bad_annotations_are_named(tmp_path, case):
    ann_dir = copy_annotations('diving48', tmp_path)
    path = ann_dir / 'Diving48_V2_train.json'
    change, message = DIVING48_BAD[case]
    if isinstance(change, bytes):
        path.write_bytes(change)
    elif isinstance(change, str):
        path.write_text(change)
    elif case.endswith(('label', 'space')):
        entries = json.loads(path.read_text())
        entries[1].update(change)
        path.write_text(json.dumps(entries))
    else:
        path.write_text(json.dumps(change))
    out_dir = tmp_path / 'lists'
    out_dir.mkdir()
    error = converter_error('diving48', ann_dir, tmp_path, out_dir)
    assert error.startswith(f'error: {path}')
    assert message in error
    assert not list(out_dir.iterdir())  # no list written
