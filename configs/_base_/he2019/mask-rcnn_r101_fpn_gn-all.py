# mask-rcnn_r50_fpn_gn-all.py with a ResNet-101 backbone.
_base_ = './mask-rcnn_r50_fpn_gn-all.py'
model = dict(backbone=dict(depth=101))
