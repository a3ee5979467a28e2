# Self-training student (Zoph et al. 2020, Sec. 3.2 and App. B) of the tiny
# Semantic-FPN segmentor of `fpn_r18-tiny-scratch_gn_shapes-seg.py` (the
# teacher: GN, random init) on the shapes class maps, the CPU stand-in for
# PASCAL VOC 2012. Every batch of 4 is 2 human images (the labeled train
# split, its class maps) and 2 pseudo images (the teacher's label maps of
# the unlabeled split, pixels below the confidence threshold at 255), and
# the student optimizes
#
#   L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p)     (App. B [V])
#
# with a = 1.0 (the paper's segmentation value) and an EMA decay of 0.99,
# not the paper's 0.9997: a horizon of ~100 of this config's 600 iterations
# (0.9997's 3,333 would keep the first value for the whole run). Ignored
# pixels are out of the loss and out of its mean (CrossEntropyLoss(
# avg_non_ignore=True) in the model). Everything else is the teacher's
# schedule ("the other training hyper-parameters remain the same as those
# in supervised training", Sec. 3.2).
#
# The student starts from the teacher's final weights (Sec. 3.2, App. C).
# tools/self_train.py runs the chain (teacher, label maps of the unlabeled
# split through tools/pseudo_label.py at --score-thr 0.5, i.e. the
# probability threshold, the student from the teacher, both evaluations):
#
#   T=configs/shapes/seg/fpn_r18-tiny-scratch_gn
#   python tools/self_train.py ${T}_selftrain_shapes-seg.py \
#       --teacher-config ${T}_shapes-seg.py \
#       --unlabeled data/shapes/unlabeled --work-dir work_dirs/seg_selftrain
#
# By hand: label into ${SHAPES_ROOT}seg_pseudo_labels/ (pseudo_seg_store),
# then tools/train.py this config --cfg-options load_from=TEACHER.pth
# (StudentInitCheckHook stops a run that loaded no checkpoint; set
# student_init='random' for App. C's comparison). The components that live
# in mmdet's registries are named with their scope (`mmdet.`), since this
# config's default scope is mmseg's.
_base_ = './fpn_r18-tiny-scratch_gn_shapes-seg.py'

# the labeler's output directory (its --out) for the unlabeled split
pseudo_seg_store = _base_.data_root + 'seg_pseudo_labels/'
# PackSegInputs' default meta keys and the source name
# (rethink_mmdet.seg.student.SEG_STUDENT_META_KEYS)
seg_student_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                         'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                         'reduce_zero_label', 'data_source')

model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    segmentor={{_base_.model}},
    loss_norm=dict(pseudo_weight=1.0, decay=0.99, normalize=True),
    part_forward='auto')
student_init = 'teacher'

# the teacher's Aug-S1 pipeline for both sources, packing the source name
student_train_pipeline = [
    dict(t, meta_keys=seg_student_meta_keys)
    if t['type'] == 'PackSegInputs' else t for t in _base_.train_pipeline
]
human_dataset = dict(
    type={{_base_.dataset_type}},
    data_root={{_base_.data_root}},
    data_prefix=dict(img_path='train/', seg_map_path='seg_maps/train/'),
    pipeline=student_train_pipeline)
pseudo_dataset = dict(
    type='PseudoSegDataset',
    store=pseudo_seg_store,
    pipeline=student_train_pipeline)
train_dataloader = dict(
    batch_size=4,
    sampler=dict(
        _delete_=True,
        type='mmdet.MixedSourceSampler',
        source_ratio=[1, 1],
        epoch_source=None,
        # every image is cropped to one size: no orientation groups (the
        # class-map data infos carry no height/width)
        aspect_ratio_grouping=False),
    batch_sampler=dict(type='mmdet.MixedSourceBatchSampler'),
    dataset=dict(
        _delete_=True,
        type='mmdet.MultiSourceDataset',
        sources=['human', 'pseudo'],
        datasets=[human_dataset, pseudo_dataset]))
# resumes continue the mixed sampler's sequence (no replayed batches)
train_cfg = dict(type='mmdet.ResumableIterBasedTrainLoop')
# the normalizer's averages go under checkpoint['joint_state_dict'] (back on
# resume): the checkpoint's state_dict is the plain segmentor's, which
# tools/test.py with the teacher config loads without unexpected keys
custom_hooks = [
    dict(type='mmdet.JointStateHook'),
    dict(type='mmdet.StudentInitCheckHook')
]
