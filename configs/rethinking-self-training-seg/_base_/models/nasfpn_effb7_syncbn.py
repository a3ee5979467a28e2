# The PASCAL VOC 2012 segmentor of Zoph et al. 2020, Sec. 3.2 [V]:
# EfficientNet-B7 backbone, NAS-FPN with 7 repeats and depth-wise separable
# convolutions, levels P3-P7 upsampled to P2 (stride 4) and summed, three
# 3x3 convs and a 1x1 classifier for 21 classes; SyncBN everywhere. Random
# init here (the "Rand Init" rows of Table 11); the -in1k / -in1k-ns files
# beside this one add the ImageNet / Noisy Student backbone weights.
#
# - backbone: mmdet's own EfficientNet(arch='b7') through the mmdet scope
#   (as the detection grid's ../../../rethinking-self-training/_base_/
#   models/retinanet_effb7_fpn_syncbn-all.py), stages 3-5 = P3-P5 (80, 224,
#   640 channels, strides 8-32); nothing frozen (frozen_stages=0).
# - neck: SeparableNASFPN (rethink_mmdet.seg.nas_fpn: mmdet's NASFPN whose
#   merge-cell 3x3 convs are DepthwiseSeparableConv2d), P6/P7 added on P5,
#   7 repeats [V]; 256 channels [U: the TF NAS-FPN default fpn_feat_dims].
# - head: PyramidFusionHead (rethink_mmdet.seg.pyramid_fusion_head), the
#   released `use_pyramid_fusion`, `segmentation_head: level: 2, num_convs:
#   3` [V, tensorflow/tpu projects/self_training/configs/
#   pascal_seg_efficientnet-b7-nasfpn.yaml]; 256 channels [U].
# - norm: SyncBN with the released batch_norm_momentum 0.997 and epsilon
#   1e-3 [V, same config] (PyTorch momentum = 1 - 0.997), ReLU in the neck
#   and head (`activation: relu` [V]); EfficientNet keeps its Swish.
# - loss: cross-entropy over the non-ignored pixels (ignore_label 255 [V]).
# The runtimes list SyncBNGuardHook (no single-process SyncBN training).
custom_imports = dict(
    imports=['rethink_mmdet.seg'], allow_failed_imports=False)

# (not `sync_bn`: a top-level `sync_bn` is an option of mmengine's Runner)
seg_norm_cfg = dict(
    type='SyncBN', requires_grad=True, eps=1e-3, momentum=0.003)
seg_fpn_channels = 256
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # ImageNet mean/std (RGB), as the TF EfficientNet checkpoints expect
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmdet.EfficientNet',
        arch='b7',
        drop_path_rate=0.2,  # mmdet's EfficientNet RetinaNet [U]
        out_indices=(3, 4, 5),
        frozen_stages=0,
        norm_cfg=seg_norm_cfg,
        norm_eval=False),
    neck=dict(
        type='SeparableNASFPN',
        in_channels=[80, 224, 640],
        out_channels=seg_fpn_channels,
        num_outs=5,
        stack_times=7,
        conv_cfg=dict(type='DepthwiseSeparableConv2d'),
        norm_cfg=seg_norm_cfg),
    decode_head=dict(
        type='PyramidFusionHead',
        in_channels=[seg_fpn_channels] * 5,
        in_index=[0, 1, 2, 3, 4],
        channels=seg_fpn_channels,
        num_convs=3,
        min_level=3,
        target_level=2,
        num_classes=21,
        norm_cfg=seg_norm_cfg,
        align_corners=False,
        ignore_index=255,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    # [V] resize_eval: the released eval resizes to the 512x512 output
    test_cfg=dict(mode='whole'))
