# faster-rcnn R50-FPN with GroupNorm everywhere He et al. 2019 put it
# (backbone, FPN, 4conv1fc box head; RPN head without norm), nothing frozen,
# random init, on PASCAL VOC in mmdet's layout: mmdet's own
# `_base_/datasets/voc0712.py` (VOC2007 + VOC2012 trainval under
# data/VOCdevkit/, repeated 3 times per pass; VOC2007 test with the 11-point
# VOC mAP at IoU 0.5; 1000x600 resize and flip, as mmdet's pascal_voc
# configs). The model is that of faster-rcnn_r50_fpn_gn-all.py (which lists
# the COCO data base, so it is restated here over the VOC one: mmengine
# refuses a key defined by two bases). The configs that list this fragment
# set the 20 VOC classes.
_base_ = [
    '../models/faster-rcnn_r50_fpn_gn-all.py',
    'mmdet::_base_/datasets/voc0712.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
