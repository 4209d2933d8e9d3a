# Two independently sampled and cropped 16x2 clips per video, decoded once.
# RobustRepeatAugDataset is RepeatAugDataset that replaces unreadable videos
# (counted and logged by BadVideoHook) and seeds each sample's augmentation
# from (seed, epoch, index), given by ResumableSampler.
dataset_type = 'RobustRepeatAugDataset'
data_root = 'data/kinetics400/videos_train'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
clip_len = 16
frame_interval = 2
crop_size = 112

train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(
        type='SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(
        type='RandomResizedCrop',
        area_range=(0.2, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,  # videos per process; each gives two clips
    num_workers=8,
    persistent_workers=True,
    prefetch_factor=4,
    pin_memory=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    # The two clips of each video, consecutive, in one batch.
    collate_fn=dict(type='repeat_pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        num_repeats=2,
        # Stop when more than 5 % of an epoch's videos cannot be read.
        max_bad_fraction=0.05,
        pipeline=train_pipeline))
