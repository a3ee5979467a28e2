# Self-training student (Zoph et al. 2020, Sec. 3 and App. B) of the tiny
# GN-all RetinaNet of configs/shapes/retinanet_r18-scratch_fpn_gn-all_
# shapes.py (random init, as its teacher): every batch of 4 holds 2 human
# images (the labeled part of the train split) and 2 pseudo images (the
# teacher's boxes on the unlabeled split, PseudoLabelDataset), and
# SelfTrainingDetector optimizes L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p *
# L_p) (loss_norm.normalize=False: the plain joint loss L_h + a * L_p).
# The leaves *_selftrain_aug-s{1,4}_shapes.py put an augmentation strength
# into both sources' pipelines (swap_student_pipeline below).
_base_ = [
    '../../_base_/models/retinanet_r18-tiny_fpn_gn-all.py',
    '../../shapes/mixed_human-pseudo_shapes.py',
    '../../_base_/schedules/shapes_iter.py',
    '../../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='SelfTrainingDetector',
    detector={{_base_.model}},
    # 0.99, not the paper's 0.9997 (App. B), for runs of a few hundred
    # iterations; the study sets decay and a per arm (TimeScale.decay: the
    # paper's horizon as the same share of the run; App. H's a)
    loss_norm=dict(pseudo_weight=1.0, decay=0.99, normalize=True),
    score_weighted=False)
# The loss-normalization averages under checkpoint['joint_state_dict']: the
# checkpoint's state_dict is the plain RetinaNet's.
custom_hooks = [dict(type='JointStateHook')]
# the scratch RetinaNet's LR (configs/shapes/retinanet_*_shapes.py)
optim_wrapper = dict(optimizer=dict(lr=0.01))
# What each source's pipeline changes in an mmdet detection pipeline: the
# student's packer keeps the source tag; the pseudo source loads the
# teacher's boxes with their scores.
student_swaps = dict(
    human=dict(PackDetInputs=dict(type='PackStudentInputs')),
    pseudo=dict(
        PackDetInputs=dict(type='PackStudentInputs'),
        LoadAnnotations=dict(type='LoadPseudoAnnotations', with_bbox=True)))
