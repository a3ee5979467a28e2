# Cascade Mask R-CNN R50-FPN with GroupNorm everywhere He et al. 2019 put it
# (every cascade stage's box head becomes 4conv1fc with GN; mask head GN; RPN
# head without norm), nothing frozen, random init: mmdet's own model converted
# by convert_to_scratch and written out
# (../models/cascade-mask-rcnn_r50_fpn_gn-all.py, rendered by
# tools/misc/render_scratch_model.py).
_base_ = [
    '../models/cascade-mask-rcnn_r50_fpn_gn-all.py',
    'mmdet::_base_/datasets/coco_instance.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
