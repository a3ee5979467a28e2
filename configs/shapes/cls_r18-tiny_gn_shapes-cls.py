# The ImageNet stand-in of the He et al. 2019 comparison on the built-in
# data: the tiny ResNet-18 of configs/shapes (mmdet's ResNet, depth 18, base
# width 16, GroupNorm with 8 groups, nothing frozen) pre-trained as an image
# classifier (global average pooling + linear + cross-entropy) on the shapes
# classification images (rethink_mmdet.data.shapes_classification: 10
# classes the detection data does not contain, six shape families (ring,
# cross, hexagon, crescent, ellipse, arrow) and four textures (stripes,
# checkerboard, dots, zigzag), one iconic object or texture per image,
# rendered like the detection data). He et al. 2019, Sec. 5 ("ImageNet
# pre-training"): their pre-trained baselines start from a GN ResNet trained
# on ImageNet classification, a different task on different images than
# COCO, and are fine-tuned with GN (the *-pretrained_fpn_gn-all_shapes.py
# configs here). The former in-domain set (the detector's own four shape
# families): `make_shapes_classification.py --families detection` and
# `--cfg-options model.num_classes=4`.
#
#   python tools/make_shapes_classification.py --out data/shapes_cls
#   python tools/train.py configs/shapes/cls_r18-tiny_gn_shapes-cls.py
#
# writes work_dirs/cls_r18-tiny_gn_shapes-cls/iter_1000.pth, the default
# checkpoint of the fine-tune configs. Another data root:
# SHAPES_CLS_ROOT=/path python tools/train.py ... (mmengine's {{$VAR:default}}
# substitution). The backbone keys, widths and input normalization equal the
# detectors' (configs/_base_/models/*r18-tiny_fpn_gn-all.py, the tiny models
# converted to GN-all), so `init_cfg=dict(type='Pretrained',
# prefix='backbone.', checkpoint=...)` loads every backbone weight.
_base_ = '../_base_/shapes_runtime.py'
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

data_root = '{{$SHAPES_CLS_ROOT:data/shapes_cls}}/'
dataset_type = 'ShapesClsDataset'
max_iters = 1000

model = dict(
    type='BackboneClassifier',
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        style='pytorch',
        frozen_stages=-1,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        norm_eval=False,
        zero_init_residual=False,
        init_cfg=None),
    num_classes=10,  # len(shapes_classification.SHAPES_CLS_CLASSES)
    in_channels=128,
    # the detectors' DetDataPreprocessor mean/std (mmdet's RetinaNet and
    # Mask R-CNN bases): the fine-tuned backbone sees the same inputs
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackClsInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img_path='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/val.json',
        data_prefix=dict(img_path='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TopKAccuracy', topk=(1, 2))
test_evaluator = val_evaluator

# He et al. 2016 (ImageNet): SGD, momentum 0.9, weight decay 1e-4, LR /10
# twice; linear warm-up, no decay on norm parameters (as the detectors).
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[int(max_iters * 0.75),
                    int(max_iters * 0.92)],
        gamma=0.1)
]
default_hooks = dict(
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_last=True))
