# Aug-S1 of Zoph et al. 2020 ("FlipCrop"): horizontal flip + scale-jitter
# crop.
# Use (README.md): list this file in _base_ and set the train dataset's
# pipeline to aug_pipelines.<variant> of this file, <variant> one of boxes,
# masks (boxes + instance masks), shapes_boxes, shapes_masks (256x256).
_base_ = './aug-common.py'

# [V] Zoph et al. 2020, Sec. 3.1: Aug-S1 is flip + scale jitter (0.8, 1.2)
# of the target size, then crop (also tensorflow/tpu configs/yaml/
# retinanet_autoaugment.yaml aug_scale_min 0.8, aug_scale_max 1.2, the
# jitter paired with policy v0).
aug_ratio_range = (0.8, 1.2)

aug_train_pipeline = [
    *_base_.aug_loading,
    _base_.aug_flip,
    dict(_base_.aug_resize, ratio_range=aug_ratio_range),
    *_base_.aug_crop_to_output,
]
# boxes / masks (Mask R-CNN) / shapes_boxes / shapes_masks (256x256)
aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in aug_train_pipeline]
    for name, swap in _base_.aug_variants.items()
}
