# Aug-S4 of Zoph et al. 2020 ("RandAugment with higher scale jitter"): Aug-S3
# with detection RandAugment in place of AutoAugment.
# Use (README.md): list this file in _base_ and set the train dataset's
# pipeline to aug_pipelines.<variant> of this file, <variant> one of boxes,
# masks (boxes + instance masks), shapes_boxes, shapes_masks (256x256).
_base_ = './aug-s3.py'

aug_policy = None  # RandAugment instead of an AutoAugment policy
# [U] the number of ops N: not in the paper text; 1 is the released
# EfficientDet call (google/automl efficientdet/dataloader.py: distort_image_
# with_randaugment(image, boxes, num_layers=1, magnitude=15)) [V, code].
aug_num_ops = 1
# [V] Zoph et al. 2020, Sec. 3.1: "For RandAugment we use a magnitude of 10
# for all models" (the ResNet-101 runs of App. Table 12 use 15:
# aug-s4-m15.py). EfficientDet's released call uses 15.
aug_magnitude = 10
aug_randaugment = dict(
    type='DetectionRandAugment',
    num_ops=aug_num_ops,
    magnitude=aug_magnitude,
    img_border_value=_base_.aug_img_border_value,
    reference_size=_base_.aug_reference_size)

aug_train_pipeline = [
    aug_randaugment if t['type'] == 'DetectionAutoAugment' else t
    for t in _base_.aug_train_pipeline
]
# boxes / masks (Mask R-CNN) / shapes_boxes / shapes_masks (256x256)
aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in aug_train_pipeline]
    for name, swap in _base_.aug_variants.items()
}
