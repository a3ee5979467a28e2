# Mask R-CNN R50-FPN with SyncBN everywhere He et al. 2019 put norm (backbone,
# FPN, 4conv1fc box head, mask head; RPN head without norm; RoI heads:
# EmptySafeSyncBN), nothing frozen, random init: the rendered model
# ../models/mask-rcnn_r50_fpn_syncbn-all.py. COCO data as in mmdet (flip,
# 1333x800). SyncBN needs more than one training process: the runtime's
# SyncBNGuardHook refuses a single-process training run.
_base_ = [
    '../models/mask-rcnn_r50_fpn_syncbn-all.py',
    'mmdet::_base_/datasets/coco_instance.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
