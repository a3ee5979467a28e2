# Aug-S3 of Zoph et al. 2020 ("AutoAugment with higher scale jitter"): Aug-S2
# (detection AutoAugment policy v0, flip, scale jitter) with a large scale
# jitter.
# Use (README.md): list this file in _base_ and set the train dataset's
# pipeline to aug_pipelines.<variant> of this file, <variant> one of boxes,
# masks (boxes + instance masks), shapes_boxes, shapes_masks (256x256).
_base_ = './aug-s2.py'

# [V] Zoph et al. 2020, Sec. 3.1: large scale jitter (0.5, 2.0) for Aug-S3
# and Aug-S4 (the released SpineNet configs use 0.5-2.0 too, e.g.
# configs/spinenet/spinenet49_mrcnn.yaml; the self-training ones 0.1-1.9).
aug_ratio_range = (0.5, 2.0)

aug_train_pipeline = [
    dict(t, ratio_range=aug_ratio_range) if t['type'] == 'RandomResize' else t
    for t in _base_.aug_train_pipeline
]
# boxes / masks (Mask R-CNN) / shapes_boxes / shapes_masks (256x256)
aug_pipelines = {
    name: [dict(t, **swap.get(t['type'], {})) for t in aug_train_pipeline]
    for name, swap in _base_.aug_variants.items()
}
