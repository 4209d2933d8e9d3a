# Fine-tune FAME-pretrained R(2+1)D-18 on UCF101
# (the paper's protocol: docs/algorithm.md).
_base_ = [
    '../_base_/models/r2plus1d_r18.py',
    '../_base_/datasets/videos_16x2_112.py',
    '../_base_/schedules/sgd_150e_finetune.py', '../_base_/default_runtime.py'
]

# The pretrained backbone: a FAME checkpoint or its export by
# tools/export_backbone.py; set it with `--cfg-options load_from=PATH`.
load_from = 'work_dirs/fame_r2plus1d_k400/backbone.pth'

# Official train/test split: 1, 2 or 3, as in MMAction2's UCF101 configs.
# The annotation file names are built from it when the config is read:
# edit it here, or override the three `ann_file` keys (docs/transfer.md);
# `--cfg-options split=2` alone changes nothing.
split = 1
data_root = 'data/ucf101/videos'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_test = f'data/ucf101/ucf101_val_split_{split}_videos.txt'

model = dict(cls_head=dict(num_classes=101))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_test, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_test, data_prefix=dict(video=data_root)))
