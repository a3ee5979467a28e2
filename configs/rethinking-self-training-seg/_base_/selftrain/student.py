# The self-training student of Zoph et al. 2020 on PASCAL (Sec. 3.2, App. B,
# Tables 6, 8, 14), as pieces that a student leaf assembles around its
# teacher's segmentor (see ../../README.md); teachers do not list this file.
#
# - seg_student_model: SelfTrainingSegmentor (rethink_mmdet/seg/student.py,
#   written beside this grid) around the teacher's EncoderDecoder, loss
#   L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p), moving averages of
#   decay 0.9997 [V, App. B]; a = pseudo_weight = 1.0 for every PASCAL
#   student [V, Sec. 3.2].
# - student_init: the student starts from its teacher's final weights (Sec.
#   3.2, App. C [V]): tools/self_train.py (and a study's self-training arm)
#   writes them as the student's load_from with resume off (the runtime's
#   resume = True would otherwise resume the teacher's iteration and
#   optimizer); each leaf's header names its teacher. seg_student_hooks:
#   StudentInitCheckHook stops a student started without its teacher's
#   weights (tools/train.py alone), naming the fixes; JointStateHook keeps
#   the normalizer's averages under checkpoint['joint_state_dict'], so the
#   checkpoint's state_dict is the plain segmentor's.
# - student_loader / mixed: every batch half human, half pseudo images
#   (MultiSourceDataset of [human..., pseudo] mixed 1:1 by
#   MixedSourceSampler [V, Sec. 3.2]; each leaf sets `source_ratio` from
#   the human datasets' shares; B7: 256 + 256 on 32 GPUs x (8 + 8); L2:
#   128 + 128, batch 256 [V]). No aspect-ratio grouping (every image is
#   cropped to 512x512).
# - seg_student_pack: PackSegInputs keeping the sample's source name
#   (`data_source`, set by MultiSourceDataset), which the student reads.
# - unlabeled: the pseudo-label set per unlabeled image source, a
#   PseudoSegDataset on the store the labeler writes (`store` here is the
#   default of a manual run, relative to data_root). The teacher labels with
#   multi-scale inference and pixels below probability 0.5 get the ignore
#   label [V, Sec. 3.2] (the labeler's settings, not this file's). Sources
#   (Table 14 [V: the three sources]): the PASCAL aug set (the SBD images of
#   aug.txt, human labels discarded), COCO (train2017 images [U: which COCO
#   images the paper labels is not read]), ImageNet train (labels
#   discarded).
seg_student_model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    loss_norm=dict(pseudo_weight=1.0, decay=0.9997))
student_init = 'teacher'
seg_student_hooks = [
    dict(type='mmdet.StudentInitCheckHook'),
    dict(type='mmdet.JointStateHook')
]
seg_student_pack = dict(
    type='PackSegInputs',
    meta_keys=('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
               'pad_shape', 'scale_factor', 'flip', 'flip_direction',
               'reduce_zero_label', 'data_source'))
student_loader = dict(
    batch_size=16,
    sampler=dict(
        _delete_=True,
        type='mmdet.MixedSourceSampler',
        aspect_ratio_grouping=False),
    batch_sampler=dict(_delete_=True, type='mmdet.MixedSourceBatchSampler'))
# sources: one 'human' per human dataset (../datasets/*: human_datasets,
# human_shares), then 'pseudo'; each leaf writes them.
mixed = dict(_delete_=True, type='mmdet.MultiSourceDataset')
pseudo_seg_dataset = dict(type='PseudoSegDataset', store='pseudo_labels')
unlabeled = dict(
    voc12aug=dict(
        pseudo_seg_dataset,
        data_root='data/VOCdevkit/VOC2012/',
        data_prefix=dict(img_path='JPEGImages/')),
    coco=dict(
        pseudo_seg_dataset,
        data_root='data/coco/',
        data_prefix=dict(img_path='train2017/')),
    in1k=dict(
        pseudo_seg_dataset,
        data_root='data/imagenet/',
        data_prefix=dict(img_path='train/')))
