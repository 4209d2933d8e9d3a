# SlowFast-R50 (tau 4, alpha 4 on 16-frame clips) with a new linear
# classifier; the backbone of configs/_base_/models/fame_slowfast_r50.py
# (see r2plus1d_r18.py).
_base_ = ['./r2plus1d_r18.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet3dSlowFast',
        pretrained=None,
        resample_rate=4,
        speed_ratio=4,
        channel_ratio=8,
        slow_pathway=dict(
            type='resnet3d',
            depth=50,
            pretrained=None,
            lateral=True,
            fusion_kernel=5,
            conv1_kernel=(1, 7, 7),
            dilations=(1, 1, 1, 1),
            conv1_stride_t=1,
            pool1_stride_t=1,
            inflate=(0, 0, 1, 1),
            norm_eval=False),
        fast_pathway=dict(
            type='resnet3d',
            depth=50,
            pretrained=None,
            lateral=False,
            base_channels=8,
            conv1_kernel=(5, 7, 7),
            conv1_stride_t=1,
            pool1_stride_t=1,
            norm_eval=False)),
    cls_head=dict(type='SlowFastHead', in_channels=2304))  # 2048 + 256
