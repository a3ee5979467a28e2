# COCO 2017 for the Zoph et al. 2020 grid: mmdet's COCO detection data with
# the test images resized to fit 640x640 (the 640x640 output of the Aug-S1..S4
# train pipelines, configs/_base_/augment/; the released RetinaNet evaluates
# at its training size [U]) and 8 images per GPU (32 GPUs x 8 = 256, the
# paper's batch [V]; students and joint arms set their own). The train
# pipeline is set by each config from its Aug-S fragment
# (../selftrain/aug-s*.py).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(batch_size=8, num_workers=4)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
