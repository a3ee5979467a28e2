# Tiny Mask R-CNN trained from random init with GroupNorm everywhere
# (He et al. 2019, Sec. 3-4: GN in backbone, FPN, 4conv1fc box head and mask
# head; RPN head without norm; nothing frozen; no pre-trained weights) on the
# built-in shapes dataset. mmdet's own model classes at small width so that it
# trains on 2 CPU cores: ResNet-18 with base width 16, FPN with 32 channels.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/models/r18-tiny_fpn_gn.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

num_classes = 4
channels = {{_base_.tiny_channels}}
norm_cfg = {{_base_.tiny_norm_cfg}}

model = dict(
    backbone={{_base_.tiny_backbone}},
    neck={{_base_.tiny_neck}},
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=128,
            num_classes=num_classes,
            norm_cfg=norm_cfg),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes,
            norm_cfg=norm_cfg)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
