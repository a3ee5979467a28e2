# Aug-S2 of Zoph et al. 2020 ("AutoAugment"): detection AutoAugment policy v0
# on the raw image (the released order), then Aug-S1's flip + scale-jitter
# crop.
# Use (README.md): list this file in _base_ and set the train dataset's
# pipeline to aug_pipelines.<variant> of this file, <variant> one of boxes,
# masks (boxes + instance masks), shapes_boxes, shapes_masks (256x256).
_base_ = './aug-common.py'

# [V] "v0 is the policy used for all of the results in the paper" (Zoph et
# al. 2019, autoaugment_utils.distort_image_with_autoaugment); Zoph et al.
# 2020 name detection AutoAugment v0 for Aug-S2.
aug_policy = 'v0'
# [V] tensorflow/tpu configs/yaml/retinanet_autoaugment.yaml: v0 with scale
# jitter 0.8-1.2. The paper's text (Sec. 3.1) says "AutoAugment + flip +
# crop" for Aug-S2 with no range of its own: Aug-S1's (0.8, 1.2) is our
# reading [U].
aug_ratio_range = (0.8, 1.2)

aug_train_pipeline = [
    *_base_.aug_loading,
    dict(
        type='DetectionAutoAugment',
        policy=aug_policy,
        img_border_value=_base_.aug_img_border_value,
        reference_size=_base_.aug_reference_size),
    _base_.aug_flip,
    dict(_base_.aug_resize, ratio_range=aug_ratio_range),
    *_base_.aug_crop_to_output,
]
# boxes / masks (Mask R-CNN) / shapes_boxes / shapes_masks (256x256)
aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in aug_train_pipeline]
    for name, swap in _base_.aug_variants.items()
}
