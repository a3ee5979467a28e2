# Tiny RetinaNet trained from random init with GroupNorm in backbone, FPN and
# head (He et al. 2019 recipe applied to the one-stage detector that Zoph et
# al. 2020 use) on the built-in shapes dataset; mmdet's own classes at small
# width so that it trains on 2 CPU cores.
#
# ScratchNormDetector (rethink_mmdet.scratch.norm) is a builder: it converts
# the plain detector config to GN-all (8 groups: every width here divides by
# 8; He et al. use 32 at full width) and returns the plain mmdet RetinaNet,
# so checkpoints are mmdet's. With norm='SyncBN' it would also install the
# SyncBNTrainGuard forward pre-hook (not in this config, see its docstring).
_base_ = [
    '../_base_/models/retinanet_r18-tiny_fpn.py',
    '../_base_/datasets/shapes_detection.py',
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
optim_wrapper = dict(optimizer=dict(lr=0.01))
