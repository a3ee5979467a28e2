# mask-rcnn R50-FPN, GN-all, from random init, 6x = 540k iterations at batch 16
# (8 GPUs x 2), LR x0.1 at the last 60k and 20k iterations. He et al. 2019,
# COCO val2017 box AP of its GN-all R50/R101 2x-6x grid: Mask R-CNN R50 GN from
# random init, 6x: 41.3 box AP.
_base_ = [
    '../_base_/he2019/mask-rcnn_r50_fpn_gn-all.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_6x.py',
]
