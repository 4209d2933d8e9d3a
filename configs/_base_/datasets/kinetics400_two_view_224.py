# The two-view Kinetics-400 data at 224 x 224 (I3D, SlowFast).
_base_ = ['./kinetics400_two_view.py']

crop_size = 224
train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='RandomResizedCrop',
        area_range=(0.2, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
