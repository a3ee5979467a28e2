# Supervised arm of the Zoph et al. 2020 half of the mini-replication
# (shapes_mini_replication.py): the tiny GN-all RetinaNet from random init of
# configs/shapes/ trained on human labels with Aug-S4 (RandAugment + large
# scale-jitter crop, configs/_base_/augment/aug-s4.py at the shapes' size,
# SHAPES_IMAGE_SIZE). Zoph et al. train their teachers and supervised baselines
# with the same augmentation ladder as their students.
_base_ = [
    '../../shapes/retinanet_r18-scratch_fpn_gn-all_shapes.py',
    '../../_base_/augment/aug-s4.py',
]
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.aug_pipelines.shapes_boxes}}))
