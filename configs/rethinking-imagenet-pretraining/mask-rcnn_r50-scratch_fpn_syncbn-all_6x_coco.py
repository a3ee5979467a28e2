# Mask R-CNN R50-FPN, SyncBN-all (statistics over all 16 images of the batch),
# from random init, 6x (He et al. 2019, Sec. 4: GN or SyncBN). Needs more
# than one process: SyncBNGuardHook refuses a single-process run.
_base_ = [
    '../_base_/he2019/mask-rcnn_r50_fpn_syncbn-all.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_6x.py',
]
