# Mask R-CNN R50-FPN, SyncBN-all (statistics over all 16 images of the batch),
# from random init, 3x (He et al. 2019, Sec. 4: GN or SyncBN). Needs more
# than one process: SyncBNGuardHook refuses a single-process run.
_base_ = './mask-rcnn_r50-scratch_fpn_gn-all_3x_coco.py'
model = dict(norm='SyncBN')
