# Fine-tune FAME-pretrained I3D (ResNet3d-50) on Diving48 (V2)
# (the paper's protocol: docs/algorithm.md).
_base_ = [
    '../_base_/models/i3d_r50.py', '../_base_/datasets/videos_16x2_224.py',
    '../_base_/schedules/sgd_150e_finetune.py', '../_base_/default_runtime.py'
]

# The pretrained backbone: a FAME checkpoint or its export by
# tools/export_backbone.py; set it with `--cfg-options load_from=PATH`.
load_from = 'work_dirs/fame_i3d_k400/backbone.pth'

data_root = 'data/diving48/videos'
ann_file_train = 'data/diving48/diving48_train_list_videos.txt'
ann_file_test = 'data/diving48/diving48_val_list_videos.txt'

model = dict(cls_head=dict(num_classes=48))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_test, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_test, data_prefix=dict(video=data_root)))
