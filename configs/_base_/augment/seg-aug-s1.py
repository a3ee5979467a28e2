# Segmentation Aug-S1 of Zoph et al. 2020 ("FlipCrop", Tables 11 and 14 on
# PASCAL VOC 2012): horizontal flip + scale jitter (0.8, 1.2) + crop, as
# mmseg transforms (the detection Aug-S1 is ./aug-s1.py).
# Use: list this file in _base_ and set the train dataset's pipeline to
# seg_aug_pipelines.<variant>, <variant> one of voc (512x512) or shapes
# (256x256).
_base_ = './seg-aug-common.py'

# [V] Zoph et al. 2020, Sec. 3.1: Aug-S1 is flip + scale jitter (0.8, 1.2)
# of the target size, then crop.
seg_aug_ratio_range = (0.8, 1.2)

seg_aug_train_pipeline = [
    *_base_.seg_aug_loading,
    _base_.seg_aug_flip,
    dict(_base_.seg_aug_resize, ratio_range=seg_aug_ratio_range),
    *_base_.seg_aug_crop_to_output,
]
seg_aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in seg_aug_train_pipeline]
    for name, swap in _base_.seg_aug_variants.items()
}
