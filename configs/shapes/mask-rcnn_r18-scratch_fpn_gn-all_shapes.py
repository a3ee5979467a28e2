# Tiny Mask R-CNN trained from random init with GroupNorm everywhere
# (He et al. 2019, Sec. 3-4: GN in backbone, FPN, 4conv1fc box head and mask
# head; RPN head without norm; nothing frozen; no pre-trained weights) on the
# built-in shapes dataset. mmdet's own model classes at small width so that it
# trains on 2 CPU cores: ResNet-18 with base width 16, FPN with 32 channels.
#
# ScratchNormDetector (rethink_mmdet.scratch.norm) is a builder: it converts
# the plain detector config to GN-all (8 groups: every width here divides by
# 8; He et al. use 32 at full width; the box head becomes
# Shared4Conv1FCBBoxHead) and returns the plain mmdet MaskRCNN, so
# checkpoints are mmdet's. With norm='SyncBN' it would also install the
# SyncBNTrainGuard forward pre-hook (not in this config, see its docstring).
_base_ = [
    '../_base_/models/mask-rcnn_r18-tiny_fpn.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='ScratchNormDetector',
    norm='GN',
    num_groups=8,
    detector={{_base_.model}})
