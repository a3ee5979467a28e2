# The shapes classification images (rethink_mmdet.data.shapes_
# classification; `python tools/make_shapes_classification.py --out
# data/shapes_cls`) as the classification source of joint training on the
# built-in shapes data: the package's ImageNet stand-in (10 shape families
# and textures that the detection data does not contain, one iconic object
# or texture per image, one image-level label), in the form of
# imagenet_joint.py. Another data root: SHAPES_CLS_ROOT=/path (mmengine's
# {{$VAR:default}} substitution).
#
# The 64x64 images are resized to the detection images' 256x256 (as ImageNet
# images go to the 640x640 of the COCO side) and flipped; empty box (and,
# for Mask R-CNN, mask) annotations keep the detection data preprocessor
# uniform; PackJointClsInputs packs the label as data_sample.gt_label.
#
#   cls = _base_.shapes_cls_joint_dataset          # boxes (RetinaNet, ...)
#   cls = _base_.shapes_cls_joint_datasets.masks   # Mask R-CNN
shapes_cls_joint_root = '{{$SHAPES_CLS_ROOT:data/shapes_cls}}/'
shapes_cls_joint_num_classes = 10  # len(SHAPES_CLS_CLASSES)
shapes_cls_joint_scale = (256, 256)

shapes_cls_joint_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=shapes_cls_joint_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='LoadEmptyAnnotations', with_bbox=True, with_mask=False),
    dict(type='PackJointClsInputs')
]
# boxes / masks (Mask R-CNN: empty masks for its data preprocessor)
shapes_cls_joint_datasets = {
    name:
    dict(
        type='ShapesClsDataset',
        data_root=shapes_cls_joint_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img_path='train/'),
        pipeline=[
            dict(t, with_mask=with_mask)
            if t['type'] == 'LoadEmptyAnnotations' else t
            for t in shapes_cls_joint_pipeline
        ])
    for name, with_mask in (('boxes', False), ('masks', True))
}
shapes_cls_joint_dataset = shapes_cls_joint_datasets['boxes']
