# Shared keys and steps of the Aug-S1..S4 fragments (Zoph et al. 2020,
# "Rethinking Pre-training and Self-training"). aug-s1.py .. aug-s4.py inherit
# this file; a config lists ONE of them, never this file (see README.md).
# Marks: [V] value of the released code named; [U] not verified against the
# paper text. The released order (tensorflow/tpu models/official/detection/
# dataloader/retinanet_parser.py): policy on the raw image -> normalize ->
# horizontal flip -> resize by a random factor of the output size -> random
# crop to the output size -> pad to it (input_utils.resize_and_crop_image).
# The steps below are mmdet's own RandomFlip / RandomResize / Pad and
# rethink_mmdet's RandomCropInstances / FilterInstances (mmdet's RandomCrop /
# FilterAnnotations that also keep a per-box gt_scores column in step), so
# the config must import rethink_mmdet (custom_imports).

# [V] tensorflow/tpu configs/retinanet_config.py 'output_size': [640, 640],
# the size of its AutoAugment RetinaNet (configs/yaml/
# retinanet_autoaugment.yaml). [U] Zoph et al. 2020's own size.
aug_output_size = (640, 640)
# The built-in shapes images (tools/make_shapes.py) are 256x256, or
# SHAPES_IMAGE_SIZE a side (as in _base_/datasets/shapes_detection.py).
aug_shapes_output_size = (int('{{$SHAPES_IMAGE_SIZE:256}}'), ) * 2
# Image size the policies' pixel magnitudes are for (reference_size of
# DetectionAutoAugment / DetectionRandAugment): None keeps the released
# constants (translate 250 px, bbox-only translate 120 px, cutout 100 px,
# bbox-only cutout 50 px at level 10), made for COCO-sized images (~640 px).
# The shapes variants scale them to the shapes images (x 256/640 at 256),
# so the miniature keeps the paper's strength relative to the image
# (reference/papers.md Sec. 2: "In a miniature, pixel magnitudes must scale
# with the image").
aug_reference_size = None
aug_shapes_reference_size = aug_shapes_output_size[0]
# [V] input_utils.random_horizontal_flip: probability 0.5.
aug_flip_prob = 0.5
# [V] autoaugment_utils.build_and_apply_nas_policy: replace_value 128.
aug_img_border_value = 128
# [V] the released code pads the normalised image with 0, i.e. with the mean
# pixel; here the raw BGR ImageNet mean of mmdet's data_preprocessor.
aug_pad_val = (104, 116, 124)
# mmdet configs/common/lsj-100e_coco-instance.py (the released code drops
# zero-area boxes only: box_utils.get_non_empty_box_indices).
aug_min_gt_bbox_wh = (0.01, 0.01)

aug_loading = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=False),
]
aug_flip = dict(type='RandomFlip', prob=aug_flip_prob)
# Resize so the image fits in ratio * output size (keep_ratio), the ratio
# drawn uniformly from the fragment's aug_ratio_range.
aug_resize = dict(type='RandomResize', scale=aug_output_size, keep_ratio=True)
aug_crop_to_output = [
    # [V] a uniform offset; a crop without boxes is kept as a negative, as
    # the released parser keeps it; with masks each box becomes its cropped
    # mask's box.
    dict(
        type='RandomCropInstances',
        crop_size=aug_output_size,
        allow_negative_crop=True,
        recompute_bbox=True),
    # keep_empty=False (mmdet's inverted name): an image left without boxes
    # is kept, not resampled.
    dict(
        type='FilterInstances',
        min_gt_bbox_wh=aug_min_gt_bbox_wh,
        keep_empty=False),
    dict(type='Pad', size=aug_output_size, pad_val=dict(img=aug_pad_val)),
    dict(type='PackDetInputs'),
]

# The variants each fragment derives from its aug_train_pipeline (boxes at
# aug_output_size) into aug_pipelines: what they change, by transform type.
aug_with_masks = dict(LoadAnnotations=dict(with_mask=True))
aug_at_shapes_size = dict(
    DetectionAutoAugment=dict(reference_size=aug_shapes_reference_size),
    DetectionRandAugment=dict(reference_size=aug_shapes_reference_size),
    RandomResize=dict(scale=aug_shapes_output_size),
    RandomCropInstances=dict(crop_size=aug_shapes_output_size),
    Pad=dict(size=aug_shapes_output_size))
aug_variants = dict(
    boxes=dict(),
    masks=aug_with_masks,
    shapes_boxes=aug_at_shapes_size,
    shapes_masks=dict(aug_at_shapes_size, **aug_with_masks))
