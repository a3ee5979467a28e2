# Self-training + joint training (Zoph et al. 2020, Table 7 "+ self-training
# + joint", App. B and H [V]) of the tiny RetinaNet on the built-in shapes
# data: the three-source case. Every batch of 6 is 2 human images (labeled
# train split), 2 pseudo images (the teacher's labels of the unlabeled split,
# from `tools/pseudo_label.py ... --out <data_root>/pseudo_labels`) and 2
# shapes classification images; the model optimizes
#
#   L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p) + w * L_cls
#
# with a = 2.0 and w = 0.2 (Table 7's self-training + joint cells). Where the
# paper adds w * L_cls to the normalized detection loss is not stated [U];
# here after the normalization. The EMA decay is 0.99, not the paper's
# 0.9997: the horizon of the short shapes schedule (as the shapes student).
_base_ = './retinanet_r18-scratch_fpn_gn-all_joint-shapes-cls_shapes.py'

model = dict(
    self_training=True,
    loss_norm=dict(pseudo_weight=2.0, decay=0.99, normalize=True),
    cls_weight=0.2)
train_dataloader = dict(
    batch_size=6,
    sampler=dict(source_ratio=[1, 1, 1]),
    dataset=dict(
        sources=['human', 'pseudo', _base_.joint_cls_source],
        datasets=[
            _base_.human_dataset, _base_.pseudo_dataset,
            _base_.shapes_cls_joint_dataset
        ]))
