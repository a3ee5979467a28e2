# The 9x scale-augmented recipe with SyncBN-all (Detectron2's scratch SyncBN
# 9x: 43.6 box / 39.3 mask AP). Needs more than one process.
_base_ = './mask-rcnn_r50-scratch_fpn_gn-all_ms-640-800-9x_coco.py'
model = dict(norm='SyncBN')
