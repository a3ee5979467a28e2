# faster-rcnn R50-FPN, GN-all, fine-tuned from ImageNet, on PASCAL VOC
# 2007+2012 trainval (mmdet's VOC layout, data/VOCdevkit/), evaluated on VOC
# 2007 test (11-point mAP at IoU 0.5). He et al. 2019: pre-trained 82.7 mAP
# at 18k iterations vs 77.6 from scratch at 144k. Not in our paper notes
# (assumptions): the detector (Faster R-CNN R50-FPN, mmdet's and
# Detectron2's VOC model) and the LR steps (12k and 16k, Detectron2's
# PascalVOC-Detection schedule of 18k iterations).
_base_ = [
    '../_base_/he2019/faster-rcnn_r50-imagenet_fpn_gn-all_voc0712.py',
    '../_base_/he_runtime.py',
    '../_base_/schedules/he_voc_18k.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
