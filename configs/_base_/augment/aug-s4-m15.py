# Aug-S4 at RandAugment magnitude 15: Zoph et al. 2020, Table 12 (the
# ResNet-101 RetinaNet appendix: float32, norm weights in weight decay,
# RandAugment magnitude 15) [V]; every other model of the paper uses
# aug-s4.py's magnitude 10 (Sec. 3.1) [V]. 15 is
# above the policies' MAX_LEVEL 10: the level formulas extrapolate, as the
# released EfficientDet RandAugment does (translate 375 px, cutout 300 px).
# Use (README.md): list this file in _base_ instead of aug-s4.py and set the
# train dataset's pipeline to aug_pipelines.<variant> of this file.
_base_ = './aug-s4.py'

aug_magnitude = 15
# aug-s4.py built its RandAugment step and pipelines from its own
# aug_magnitude when it was parsed; mmengine does not re-evaluate them when a
# child sets the key again, so the step and the pipelines are rebuilt here.
aug_randaugment = dict(_base_.aug_randaugment, magnitude=aug_magnitude)
aug_train_pipeline = [
    aug_randaugment if t['type'] == 'DetectionRandAugment' else t
    for t in _base_.aug_train_pipeline
]
# boxes / masks (Mask R-CNN) / shapes_boxes / shapes_masks (256x256)
aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in aug_train_pipeline]
    for name, swap in _base_.aug_variants.items()
}
