# As fame_i3d_k400.py, pretrained on UCF101 split 1 (train), with a
# queue of 2048 negatives.
_base_ = ['./fame_i3d_k400.py']

data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'

model = dict(head=dict(queue_len=2048))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
# An epoch is about 150 steps: a checkpoint every epoch.
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=True))
