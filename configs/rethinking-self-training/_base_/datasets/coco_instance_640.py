# COCO 2017 with instance masks for the Mask R-CNN arms of the Zoph et al.
# 2020 grid: coco_detection_640.py evaluated on boxes and masks (the train
# pipeline, with masks, comes from the Aug-S fragment's
# `aug_instance_train_pipeline`).
_base_ = './coco_detection_640.py'

val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
