# The built-in shapes data as semantic segmentation (rethink_mmdet.seg,
# MMSegmentation): the CPU stand-in for PASCAL VOC 2012 (Zoph et al. 2020,
# Sec. 3.2). Make it with
#
#   python tools/make_shapes_seg.py --root data/shapes
#
# Images data/shapes/{train,val}/*.png, class maps data/shapes/seg_maps/
# {train,val}/*.png (0 background, 1..4 circle/triangle/square/star, 255
# ignored). Another data root: SHAPES_ROOT=/path, another image size (the
# shapes data made with --image-size N): SHAPES_IMAGE_SIZE=N (mmengine's
# {{$VAR:default}}).
# Pipeline: flip + scale jitter (0.8, 1.2) + crop to the image size, Zoph et
# al.'s Aug-S1 (Sec. 3.1) at the shapes' image size.
custom_imports = dict(
    imports=['rethink_mmdet.seg'], allow_failed_imports=False)
dataset_type = 'ShapesSegDataset'
data_root = '{{$SHAPES_ROOT:data/shapes/}}'
shapes_seg_image_size = int('{{$SHAPES_IMAGE_SIZE:256}}')
shapes_seg_size = (shapes_seg_image_size, shapes_seg_image_size)
shapes_seg_ignore_index = 255

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=shapes_seg_size,
        ratio_range=(0.8, 1.2),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=shapes_seg_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_seg_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/', seg_map_path='seg_maps/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/', seg_map_path='seg_maps/val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
