# Mask R-CNN R50-FPN, random init, SyncBN-all: SyncBN in the backbone, the
# FPN, a 4conv1fc box head and the mask head, RPN head without norm, nothing
# frozen (He et al. 2019's scratch layout, scratch_syncbn-all.py), for the
# self-training grid of Zoph et al. 2020 beside their RetinaNet. mmdet's own
# MaskRCNN.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', './scratch_syncbn-all.py'
]

model = dict(_base_.scratch_syncbn_all, detector=_base_.model)
