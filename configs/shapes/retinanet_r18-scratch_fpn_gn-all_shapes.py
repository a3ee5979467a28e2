# Tiny RetinaNet trained from random init with GroupNorm in backbone, FPN and
# head (He et al. 2019 recipe applied to the one-stage detector that Zoph et
# al. 2020 use) on the built-in shapes dataset; mmdet's own classes at small
# width so that it trains on 2 CPU cores.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/models/r18-tiny_fpn_gn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

channels = {{_base_.tiny_channels}}

model = dict(
    backbone={{_base_.tiny_backbone}},
    neck={{_base_.tiny_neck}},
    bbox_head=dict(
        num_classes=4,
        in_channels=channels,
        feat_channels=channels,
        stacked_convs=2,
        norm_cfg={{_base_.tiny_norm_cfg}}))
optim_wrapper = dict(optimizer=dict(lr=0.01))
