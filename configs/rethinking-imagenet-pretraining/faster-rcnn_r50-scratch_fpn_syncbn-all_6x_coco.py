# Faster R-CNN R50-FPN, SyncBN-all, from random init, 6x (He et al. 2019,
# Sec. 4). Needs more than one process (SyncBNGuardHook).
_base_ = './faster-rcnn_r50-scratch_fpn_gn-all_6x_coco.py'
model = dict(norm='SyncBN')
