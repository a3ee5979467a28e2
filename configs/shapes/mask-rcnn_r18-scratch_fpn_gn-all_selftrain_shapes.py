# Self-training student (Zoph et al. 2020, Sec. 3 and App. B) of the tiny
# Mask R-CNN of `mask-rcnn_r18-scratch_fpn_gn-all_shapes.py` (the teacher:
# GN-all, random init, He et al. 2019) on the built-in shapes dataset: every
# batch of 4 is 2 human images (the labeled train split) and 2 pseudo images
# (the teacher's boxes and masks on the unlabeled split), and the student
# optimizes L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p) (Zoph et al.
# 2020, App. B [V]; a = 1, and an EMA decay of 0.99 where the paper's is
# 0.9997, see loss_norm below). The CPU example of
# configs/rethinking-self-training/ and of tools/self_train.py:
#
#   S=configs/shapes/mask-rcnn_r18-scratch_fpn_gn-all
#   python tools/self_train.py ${S}_selftrain_shapes.py \
#       --teacher-config ${S}_shapes.py \
#       --unlabeled data/shapes/unlabeled --work-dir work_dirs/selftrain_shapes
#
# The resumable loop (rethink_mmdet.engine.loops) continues the mixed
# sampler's sequence on resume instead of replaying the trained batches.
#
# The data pieces come from `mixed_human-pseudo_shapes.py` (inherited beside
# the model, schedule and runtime, as its header says); its pipelines load
# boxes only, so both sources get Mask R-CNN's mask-loading pipelines here
# (the pseudo one with LoadPseudoAnnotations: the teacher's score of every
# box reaches the student, `model.score_weighted=True` uses it).
_base_ = [
    '../_base_/models/mask-rcnn_r18-tiny_fpn_gn-all.py',
    './mixed_human-pseudo_shapes.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]

model = dict(
    _delete_=True,
    type='SelfTrainingDetector',
    detector={{_base_.model}},
    # 0.99, not the paper's 0.9997 (App. B): a horizon of ~100 of this
    # config's 800 iterations (the paper's share of a 45k-90k run would be
    # 30-59 iterations; TimeScale.decay computes it for a study)
    loss_norm=dict(pseudo_weight=1.0, decay=0.99, normalize=True),
    score_weighted=False)

mask_swap = dict(
    human=dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    pseudo=dict(type='LoadPseudoAnnotations', with_bbox=True, with_mask=True))
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            d,
            pipeline=[
                mask_swap[name] if t['type'] == 'LoadAnnotations' else t
                for t in d['pipeline']
            ]) for name, d in (('human', _base_.human_dataset),
                               ('pseudo', _base_.pseudo_dataset))
    ]))
train_cfg = dict(type='ResumableIterBasedTrainLoop')
# The loss-normalization averages go under checkpoint['joint_state_dict'] (and
# come back on resume): the checkpoint's state_dict is the plain Mask R-CNN's,
# which tools/test.py with the teacher config loads without unexpected keys.
custom_hooks = [dict(type='JointStateHook')]
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
