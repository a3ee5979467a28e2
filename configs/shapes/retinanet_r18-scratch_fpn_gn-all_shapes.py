# Tiny RetinaNet trained from random init with GroupNorm in backbone, FPN and
# head (He et al. 2019 recipe applied to the one-stage detector that Zoph et
# al. 2020 use) on the built-in shapes dataset; mmdet's own classes at small
# width so that it trains on 2 CPU cores.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

num_classes = 4
width = 16
channels = 32
norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)

model = dict(
    backbone=dict(
        depth=18,
        base_channels=width,
        frozen_stages=-1,
        norm_eval=False,
        zero_init_residual=False,
        norm_cfg=norm_cfg,
        init_cfg=None),
    neck=dict(
        in_channels=[width, width * 2, width * 4, width * 8],
        out_channels=channels,
        norm_cfg=norm_cfg),
    bbox_head=dict(
        num_classes=num_classes,
        in_channels=channels,
        feat_channels=channels,
        stacked_convs=2,
        norm_cfg=norm_cfg))
optim_wrapper = dict(optimizer=dict(lr=0.01))
