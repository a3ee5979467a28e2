# faster-rcnn R50-FPN, GN-all, from random init, on PASCAL VOC 2007+2012
# trainval (mmdet's VOC layout, data/VOCdevkit/), evaluated on VOC 2007 test
# (11-point mAP at IoU 0.5). He et al. 2019: from scratch 77.6 mAP at 144k
# iterations vs 82.7 pre-trained at 18k -- VOC is a breakdown regime for
# training from scratch. Not in our paper notes (assumptions): the detector
# (Faster R-CNN R50-FPN, mmdet's and Detectron2's VOC model) and the LR steps
# (the Sec. 4 "last 60k and 20k iterations" rule: 84k and 124k).
_base_ = [
    '../_base_/he2019/faster-rcnn_r50_fpn_gn-all_voc0712.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_voc_144k.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
