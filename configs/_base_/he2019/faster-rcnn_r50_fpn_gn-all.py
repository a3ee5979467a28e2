# faster-rcnn R50-FPN with GroupNorm everywhere He et al. 2019 put it
# (backbone, FPN, 4conv1fc box head; RPN head without norm), nothing frozen,
# random init: mmdet's own model converted by convert_to_scratch and written
# out (../models/faster-rcnn_r50_fpn_gn-all.py, rendered by
# tools/misc/render_scratch_model.py). COCO data as in mmdet (flip,
# 1333x800). The SyncBN-all twin: faster-rcnn_r50_fpn_syncbn-all.py.
_base_ = [
    '../models/faster-rcnn_r50_fpn_gn-all.py',
    'mmdet::_base_/datasets/coco_detection.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
