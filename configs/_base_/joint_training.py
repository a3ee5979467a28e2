# Joint training (Zoph et al. 2020, Sec. 4.4, Table 7, App. H [V]): image
# classification trained jointly with detection, "the exact setup as
# self-training" (every batch split between the sources), L = L_det + w *
# L_cls. Pieces that a joint config assembles around its detector config
# (a fragment: no model, data, schedule or runtime of its own), with a
# classification source fragment beside it (datasets/imagenet_joint.py,
# datasets/shapes-cls_joint.py):
#
#   model = dict(_base_.joint_model, detector=_base_.model)
#   custom_hooks = [*<the arm's own hooks>, *_base_.joint_custom_hooks]
#   train_dataloader = dict(
#       _base_.joint_loader,
#       dataset=dict(_base_.joint_mixed,
#                    datasets=[human_dataset, _base_.imagenet_joint_dataset]))
#
# The three-source arm (human + pseudo + classification): joint_selftrain_
# model, sources ['human', 'pseudo', 'classification'], source_ratio
# [1, 1, 1]. rethink_mmdet.self_training.joint documents the loss.
#
# - joint_model: w = 0.5 (App. H, joint training alone [V]); cls_head on
#   the last backbone output (global average pooling + linear), its
#   in_channels taken from the detector's neck; num_classes 1000 (ImageNet).
# - joint_selftrain_model: w = 0.2 and the student's loss normalization on
#   the pseudo term (App. B, H [V]; Table 7: a = 2.0 in both rows).
# - joint_loader: 1 detection : 1 classification image in every batch on
#   every rank (MixedSourceSampler); no aspect-ratio grouping, since the
#   classification data infos carry no image size (every image is cropped
#   to the output size anyway).
# - joint_mixed: the classification source's metainfo (ImageNet's classes)
#   is not compared with the detection sources' (exempt_sources).
# - joint_custom_hooks: JointStateHook keeps the classification head and
#   the loss-normalization averages under checkpoint['joint_state_dict'],
#   so a checkpoint's state_dict is the plain detector's (tools/test.py
#   with the plain config loads it, strict).
joint_cls_source = 'classification'
joint_model = dict(
    _delete_=True,
    type='JointTrainingDetector',
    cls_head=dict(num_classes=1000),
    cls_weight=0.5,
    cls_source=joint_cls_source)
joint_selftrain_model = dict(
    joint_model,
    self_training=True,
    loss_norm=dict(pseudo_weight=2.0, decay=0.9997, normalize=True),
    cls_weight=0.2)
joint_loader = dict(
    sampler=dict(
        _delete_=True,
        type='MixedSourceSampler',
        source_ratio=[1, 1],
        aspect_ratio_grouping=False),
    batch_sampler=dict(_delete_=True, type='MixedSourceBatchSampler'))
joint_mixed = dict(
    _delete_=True,
    type='MultiSourceDataset',
    sources=['human', joint_cls_source],
    exempt_sources=[joint_cls_source])
joint_custom_hooks = [dict(type='JointStateHook')]
