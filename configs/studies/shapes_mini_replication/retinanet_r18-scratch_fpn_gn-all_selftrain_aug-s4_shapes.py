# The RetinaNet student of retinanet_r18-scratch_fpn_gn-all_selftrain_
# shapes.py with Aug-S4 (configs/_base_/augment/aug-s4.py, at the shapes' size)
# on both the human and the pseudo images (Zoph et al. 2020, Sec. 4.1: the
# student is trained with the augmentation strength of the row).
_base_ = [
    './retinanet_r18-scratch_fpn_gn-all_selftrain_shapes.py',
    '../../_base_/augment/aug-s4.py',
]
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            d,
            pipeline=[
                dict(t, **_base_.student_swaps[src].get(t['type'], {}))
                for t in _base_.aug_pipelines['shapes_boxes']
            ]) for src, d in (('human', _base_.human_dataset),
                              ('pseudo', _base_.pseudo_dataset))
    ]))
