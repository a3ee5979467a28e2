# Segmentation Aug-S4 of Zoph et al. 2020 ("RandAugment with higher scale
# jitter", Tables 6, 8, 11, 14 on PASCAL VOC 2012): RandAugment at magnitude
# 10 on the raw image, then horizontal flip + large scale jitter (0.5, 2.0)
# + crop, as mmseg transforms (the detection Aug-S4 is ./aug-s4.py).
# Use: list this file in _base_ and set the train dataset's pipeline to
# seg_aug_pipelines.<variant>, <variant> one of voc (512x512) or shapes
# (256x256).
#
# The RandAugment is the detection one (mmdet.DetectionRandAugment, the
# released EfficientDet op list), called through the mmdet scope. Its ops
# on a label map (tests/seg/test_seg_augment.py):
# - colour ops (Equalize, Solarize, SolarizeAdd, Color) and Cutout change
#   the image only; the label map is untouched (Cutout leaves boxes
#   unchanged in the release, so it leaves labels unchanged here);
# - the *_BBox ops (TranslateX/Y_BBox, ShearX/Y_BBox, Rotate_BBox) move the
#   WHOLE image (and boxes) in the release: here they move `gt_seg_map`
#   with the image by the same affine map (nearest), vacated label pixels
#   set to the ignore index 255;
# - box-only ops (*_Only_BBoxes: content inside each box moves; BBox_Cutout)
#   have no meaning without boxes. They are not in RandAugment's released op
#   list, and seg_aug_randaugment_ops below leaves them out by name (none
#   replaced); a detection AutoAugment policy (Aug-S2/S3, which the PASCAL
#   tables do not use) would need them replaced and is not offered here.
_base_ = './seg-aug-common.py'

# [V] Zoph et al. 2020, Sec. 3.1: Aug-S4 = RandAugment + large scale jitter
# (0.5, 2.0); "For RandAugment we use a magnitude of 10 for all models".
seg_aug_ratio_range = (0.5, 2.0)
seg_aug_magnitude = 10
# [U] the number of ops N: not in the paper text; 1 is the released
# EfficientDet call (as ./aug-s4.py).
seg_aug_num_ops = 1
# The released EfficientDet op list (rethink_mmdet.augment.randaugment.
# EFFICIENTDET_OPS): every op acts on the whole image; no box-only op.
seg_aug_randaugment_ops = [
    'Equalize', 'Solarize', 'Color', 'Cutout', 'SolarizeAdd',
    'TranslateX_BBox', 'TranslateY_BBox', 'ShearX_BBox', 'ShearY_BBox',
    'Rotate_BBox'
]
seg_aug_randaugment = dict(
    type='mmdet.DetectionRandAugment',
    num_ops=seg_aug_num_ops,
    magnitude=seg_aug_magnitude,
    ops=seg_aug_randaugment_ops,
    img_border_value=_base_.seg_aug_img_border_value,
    reference_size=_base_.seg_aug_reference_size)

seg_aug_train_pipeline = [
    *_base_.seg_aug_loading,
    seg_aug_randaugment,
    _base_.seg_aug_flip,
    dict(_base_.seg_aug_resize, ratio_range=seg_aug_ratio_range),
    *_base_.seg_aug_crop_to_output,
]
seg_aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in seg_aug_train_pipeline]
    for name, swap in _base_.seg_aug_variants.items()
}
