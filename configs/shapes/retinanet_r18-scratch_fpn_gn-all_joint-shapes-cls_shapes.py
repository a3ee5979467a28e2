# Joint training (Zoph et al. 2020, Sec. 4.4, Table 7 "+ joint", App. H [V])
# of the tiny RetinaNet of `retinanet_r18-scratch_fpn_gn-all_shapes.py`
# (GN-all, random init, He et al. 2019) on the built-in shapes data, with
# the shapes classification set as the ImageNet stand-in: every batch of 4
# is 2 detection images (the labeled train split) and 2 classification
# images, and the model optimizes L = L_det + w * L_cls with w = 0.5 (App.
# H: joint training alone) and L_cls the cross-entropy of a global-average-
# pool + linear head on the detector's last backbone stage
# (JointTrainingDetector, rethink_mmdet.self_training.joint).
#
#   python tools/make_shapes.py --out data/shapes
#   python tools/make_shapes_classification.py --out data/shapes_cls
#   S=configs/shapes/retinanet_r18-scratch_fpn_gn-all
#   python tools/train.py ${S}_joint-shapes-cls_shapes.py
#
# Checkpoints hold the plain RetinaNet's state_dict (JointStateHook keeps the
# classification head under checkpoint['joint_state_dict']), so
# `tools/test.py configs/shapes/retinanet_r18-scratch_fpn_gn-all_shapes.py
# <checkpoint>` evaluates them as they are.
_base_ = [
    '../_base_/models/retinanet_r18-tiny_fpn_gn-all.py',
    './mixed_human-pseudo_shapes.py',
    '../_base_/datasets/shapes-cls_joint.py',
    '../_base_/joint_training.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

model = dict(
    _base_.joint_model,
    detector={{_base_.model}},
    cls_head=dict(num_classes=_base_.shapes_cls_joint_num_classes))
custom_hooks = _base_.joint_custom_hooks
train_dataloader = dict(
    _base_.joint_loader,
    batch_size=4,
    dataset=dict(
        _base_.joint_mixed,
        datasets=[_base_.human_dataset, _base_.shapes_cls_joint_dataset]))
train_cfg = dict(type='ResumableIterBasedTrainLoop')
optim_wrapper = dict(optimizer=dict(lr=0.01))
