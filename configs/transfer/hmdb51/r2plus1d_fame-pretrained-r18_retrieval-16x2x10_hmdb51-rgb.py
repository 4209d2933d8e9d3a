# Video retrieval with FAME-pretrained R(2+1)D-18 on HMDB51 (docs/
# algorithm.md): the 512-d pooled backbone features of 10 uniformly spaced
# 16x2 clips, averaged per video; test videos query the training videos,
# each set mean-centred and L2-normalised, cosine similarity, Recall@k.
# Run with tools/test.py CONFIG CHECKPOINT, where CHECKPOINT is a FAME
# checkpoint or its export by tools/export_backbone.py (only `backbone.*`
# is used; MMEngine warns that the other keys of the model are missing).
_base_ = [
    '../../_base_/models/fame_r2plus1d_r18.py', '../_base_/default_runtime.py'
]

# Official train/test split: 1, 2 or 3, as in MMAction2's UCF101 configs.
# The annotation file names are built from it when the config is read:
# edit it here, or override the two `ann_file` keys (docs/transfer.md);
# `--cfg-options split=2` alone changes nothing.
split = 1
data_root = 'data/hmdb51/videos'
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_test = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'

file_client_args = dict(io_backend='disk')
test_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(
        type='SampleFrames',
        clip_len=16,
        frame_interval=2,
        num_clips=10,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_dataloader = dict(
    batch_size=4,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='VideoRetrievalDataset',
        gallery=dict(
            type='StrictVideoDataset',
            ann_file=ann_file_train,
            data_prefix=dict(video=data_root),
            pipeline=test_pipeline,
            test_mode=True),
        query=dict(
            type='StrictVideoDataset',
            ann_file=ann_file_test,
            data_prefix=dict(video=data_root),
            pipeline=test_pipeline,
            test_mode=True)))
test_evaluator = dict(type='VideoRetrievalMetric', topk=(1, 5, 10, 20, 50))
test_cfg = dict(type='TestLoop')
