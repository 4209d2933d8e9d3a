# MoCo + FAME with SlowFast-R50 on 16-frame clips: the fast pathway sees all
# 16 frames, the slow one every 4th (resample_rate = speed_ratio = 4).
_base_ = ['./fame_r2plus1d_r18.py']

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
    head=dict(in_channels=2304))  # 2048 slow + 256 fast
