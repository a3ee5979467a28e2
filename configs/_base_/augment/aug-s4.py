# Aug-S4 of Zoph et al. 2020 ("RandAugment with higher scale jitter"): Aug-S3
# with detection RandAugment in place of AutoAugment.
# Use (README.md): list this file in _base_ and set the train dataset's
# pipeline to aug_pipelines.<variant> of this file, <variant> one of boxes,
# masks (boxes + instance masks), shapes_boxes, shapes_masks (256x256).
_base_ = './aug-s3.py'

aug_policy = None  # RandAugment instead of an AutoAugment policy
# [V] google/automl efficientdet/dataloader.py: distort_image_with_
# randaugment(image, boxes, num_layers=1, magnitude=15). [U] the (N, M) of
# Aug-S4 in the paper text. Magnitude 15 is above the policies' MAX_LEVEL 10:
# the level formulas extrapolate, as released.
aug_num_ops = 1
aug_magnitude = 15
aug_randaugment = dict(
    type='DetectionRandAugment',
    num_ops=aug_num_ops,
    magnitude=aug_magnitude,
    img_border_value=_base_.aug_img_border_value)

aug_train_pipeline = [
    aug_randaugment if t['type'] == 'DetectionAutoAugment' else t
    for t in _base_.aug_train_pipeline
]
# boxes / masks (Mask R-CNN) / shapes_boxes / shapes_masks (256x256)
aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in aug_train_pipeline]
    for name, swap in _base_.aug_variants.items()
}
