# Cascade Mask R-CNN R50-FPN with GroupNorm everywhere He et al. 2019 put it
# (every cascade stage's box head becomes 4conv1fc with GN; mask head GN; RPN
# head without norm), nothing frozen, random init (ScratchNormDetector).
# ScratchNormDetector is a builder: it returns the plain mmdet detector
# (checkpoints are mmdet's). With norm='SyncBN' (the syncbn-all configs) it
# also installs SyncBNTrainGuard, a forward pre-hook that is not in this
# config: single-process SyncBN *training* is refused at the first forward.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    type='ScratchNormDetector',
    norm='GN',
    num_groups=32,
    detector={{_base_.model}})
