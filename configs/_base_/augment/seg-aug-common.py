# Shared keys and steps of the SEGMENTATION Aug-S1 / Aug-S4 fragments (Zoph et
# al. 2020, PASCAL VOC 2012, Sec. 3.2 / Tables 8, 11, 14): mmseg pipelines.
# seg-aug-s1.py and seg-aug-s4.py inherit this file; a config lists ONE of
# them, never this file. Marks: [V] read in the paper text or the released
# config named; [U] not verified there: a key to change, not a finding.
#
# Order as the detection fragments (./aug-common.py, the released parser):
# policy on the raw image -> horizontal flip -> resize by a random factor of
# the output size -> random crop to the output size. The segmentation
# steps are mmseg's (mmcv's RandomFlip / RandomResize and mmseg's
# RandomCrop move `gt_seg_map` with the image); the padding to the output
# size is the segmentor's SegDataPreProcessor (`size`): images padded with 0
# after normalization (the mean pixel, as the release pads the normalized
# image with 0), label maps with the ignore index 255.

# [V] tensorflow/tpu projects/self_training/configs/pascal_seg_efficientnet-
# {b7,l2}-nasfpn.yaml: segmentation_parser output_size [512, 512],
# ignore_label 255. [U] the paper text gives no crop size.
seg_aug_crop_size = (512, 512)
# The built-in shapes class maps (tools/make_shapes_seg.py) are 256x256.
seg_aug_shapes_crop_size = (int('{{$SHAPES_IMAGE_SIZE:256}}'), ) * 2
seg_aug_ignore_index = 255
# [V] aug_rand_hflip: true (probability 0.5, input_utils).
seg_aug_flip_prob = 0.5
# [V] the released AutoAugment/RandAugment fill of vacated image pixels.
seg_aug_img_border_value = 128
# Pixel magnitudes (translate 250 px, cutout 100 px at level 10) are the
# released COCO-sized ones (None); PASCAL images are at most 500 px, so
# they are relatively stronger there [U: the paper does not say whether
# its segmentation RandAugment scaled them]. The shapes variant scales them
# to its 256 px images, as the detection fragments do.
seg_aug_reference_size = None
seg_aug_shapes_reference_size = seg_aug_shapes_crop_size[0]

seg_aug_loading = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
]
seg_aug_flip = dict(type='RandomFlip', prob=seg_aug_flip_prob)
# Resize so the image fits in ratio * crop size (keep_ratio), the ratio
# drawn uniformly from the fragment's seg_aug_ratio_range.
seg_aug_resize = dict(
    type='RandomResize', scale=seg_aug_crop_size, keep_ratio=True)
seg_aug_crop_to_output = [
    # [V] a uniform crop offset (input_utils.resize_and_crop_image);
    # cat_max_ratio=1.0: no re-draw of crops dominated by one class (mmseg's
    # PASCAL configs use 0.75; the release has no such rule).
    dict(type='RandomCrop', crop_size=seg_aug_crop_size, cat_max_ratio=1.0),
    dict(type='PackSegInputs'),
]

# The variants each fragment derives from its seg_aug_train_pipeline (at
# seg_aug_crop_size) into seg_aug_pipelines, by transform type.
seg_aug_at_shapes_size = {
    'mmdet.DetectionRandAugment':
    dict(reference_size=seg_aug_shapes_reference_size),
    'RandomResize':
    dict(scale=seg_aug_shapes_crop_size),
    'RandomCrop':
    dict(crop_size=seg_aug_shapes_crop_size),
}
seg_aug_variants = dict(voc=dict(), shapes=seg_aug_at_shapes_size)
