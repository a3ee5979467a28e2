# mmdet's RetinaNet at the tiny width of the CPU configs in configs/shapes/:
# mmdet's own ResNet-18 at base width 16 (stages of 16, 32, 64, 128
# channels), FPN and head at 32 channels, 4 classes, no pre-trained weights.
# The plain model: the source of retinanet_r18-tiny_fpn_gn-all.py
# (tools/misc/render_scratch_model.py), which puts GroupNorm into backbone,
# FPN and head (He et al. 2019, Sec. 3-4).
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    backbone=dict(depth=18, base_channels=16, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    bbox_head=dict(
        num_classes=4, in_channels=32, feat_channels=32, stacked_convs=2))
