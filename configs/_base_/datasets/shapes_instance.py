# The built-in "shapes" dataset with instance masks (RLE), for Mask R-CNN.
# Mirrors mmdet's `_base_/datasets/coco_instance.py`.
_base_ = './shapes_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale={{_base_.image_scale}}, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# Whole-list replacement: the dataloader must see the new pipeline too
# (mmdet#10891).
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
