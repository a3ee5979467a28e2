# A tiny MMSegmentation segmentor for CPU runs on the shapes class maps
# (configs/_base_/datasets/shapes_seg.py): ResNet-18 at 1/4 width with
# GroupNorm everywhere (He et al. 2019: trains from random init), FPN, and
# mmseg's Semantic FPN head (every level upsampled to stride 4 and summed,
# as the paper's NAS-FPN head sums P3-P7 at P2, Zoph et al. 2020, Sec. 3.2).
# 5 classes, pixels at 255 ignored and left out of the loss's mean.
tiny_seg_norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
tiny_seg_width = 16
tiny_seg_channels = 32
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)  # every training crop has the image size
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=tiny_seg_width,
        base_channels=tiny_seg_width,
        out_indices=(0, 1, 2, 3),
        norm_cfg=tiny_seg_norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[
            tiny_seg_width, tiny_seg_width * 2, tiny_seg_width * 4,
            tiny_seg_width * 8
        ],
        out_channels=tiny_seg_channels,
        num_outs=4),
    decode_head=dict(
        type='FPNHead',
        in_channels=[tiny_seg_channels] * 4,
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=tiny_seg_channels,
        dropout_ratio=0.1,
        num_classes=5,
        norm_cfg=tiny_seg_norm_cfg,
        align_corners=False,
        ignore_index=255,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
