# mask-rcnn_r50-imagenet_fpn_gn-all.py with ResNet-101 and Detectron's
# ImageNet GN ResNet-101 weights.
_base_ = './mask-rcnn_r50-imagenet_fpn_gn-all.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(checkpoint='open-mmlab://detectron/resnet101_gn')))
