# Faster R-CNN R50-FPN, SyncBN-all, from random init, 6x (He et al. 2019,
# Sec. 4). Needs more than one process (SyncBNGuardHook).
_base_ = [
    '../_base_/he2019/faster-rcnn_r50_fpn_syncbn-all.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_6x.py',
]
