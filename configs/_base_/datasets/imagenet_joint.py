# ImageNet classification as the classification source of joint training
# (Zoph et al. 2020, Sec. 4.4, Table 7, App. H [V]: ImageNet trained jointly
# with COCO, 19 epochs over ImageNet). A fragment with unique key names
# (imagenet_joint_*), inherited beside a joint arm and ../joint_training.py.
#
# Data: the ILSVRC-2012 train folder as extracted, one folder per class:
#
#   data/imagenet/train/n01440764/n01440764_10026.JPEG ...
#
# read by ImageFolderClsDataset (rethink_mmdet.self_training.joint_data; no
# mmpretrain needed): label = index of the class folder among the sorted
# folder names (torchvision ImageFolder / mmpretrain order), 1000 classes.
# The folder is listed once at start (1.28M names; no image is opened).
#
# Pipeline [U]: the paper says only "the exact setup as self-training"; here
# the classification images get the geometric part of the detection side's
# Aug-S3/S4 (flip, resize to the 640x640 output size times a ratio in
# [0.5, 2.0], random crop to 640x640; Sec. 3.1 [V] for the detection
# images), no colour policy (the detection AutoAugment/RandAugment ops are
# written for boxes). No Pad: the batch pads them to the detection images'
# 640x640, and JointClsHead pools over each image's own area. Empty box
# (and, for Mask R-CNN, mask) annotations keep the data preprocessor
# uniform; PackJointClsInputs packs the label as data_sample.gt_label and
# keeps the source name.
#
#   cls = _base_.imagenet_joint_dataset          # boxes (RetinaNet, ...)
#   cls = _base_.imagenet_joint_datasets.masks   # Mask R-CNN
imagenet_joint_root = 'data/imagenet/'
imagenet_joint_num_classes = 1000
imagenet_joint_output_size = (640, 640)
imagenet_joint_ratio_range = (0.5, 2.0)
imagenet_joint_flip_prob = 0.5

imagenet_joint_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='RandomFlip', prob=imagenet_joint_flip_prob),
    dict(
        type='RandomResize',
        scale=imagenet_joint_output_size,
        ratio_range=imagenet_joint_ratio_range,
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_size=imagenet_joint_output_size,
        allow_negative_crop=True),
    dict(type='LoadEmptyAnnotations', with_bbox=True, with_mask=False),
    dict(type='PackJointClsInputs')
]
# boxes / masks (Mask R-CNN: empty masks for its data preprocessor)
imagenet_joint_pipelines = {
    name: [
        dict(t, with_mask=with_mask)
        if t['type'] == 'LoadEmptyAnnotations' else t
        for t in imagenet_joint_pipeline
    ]
    for name, with_mask in (('boxes', False), ('masks', True))
}
imagenet_joint_datasets = {
    name:
    dict(
        type='ImageFolderClsDataset',
        data_root=imagenet_joint_root,
        data_prefix=dict(img_path='train/'),
        pipeline=pipeline)
    for name, pipeline in imagenet_joint_pipelines.items()
}
imagenet_joint_dataset = imagenet_joint_datasets['boxes']
