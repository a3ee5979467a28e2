# The self-training student of Zoph et al. 2020 (Sec. 3.2 and App. B), as
# pieces that a student leaf assembles around the teacher's detector (see
# ../../README.md); teachers do not list this file.
#
# - student_model: L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p) with
#   Lbar the exponential moving averages of the two losses, decay 0.9997
#   [V, App. B]; a = pseudo_weight, set by each leaf from App. H [V];
#   normalize=False gives the plain joint loss L_h + a * L_p. Hard pseudo
#   labels (the paper [V]); score_weighted=True weights L_p by the mean
#   teacher score.
# - student_init: the student starts from its teacher's final weights in
#   every experiment of the paper [V, Sec. 3.2, App. C]; tools/self_train.py
#   and study arms load them ('teacher'), 'random' is App. C's comparison
#   (Table 10), a path starts from that checkpoint. The normalizer's moving
#   averages start fresh either way. student_hooks: StudentInitCheckHook
#   stops a student that should start from its teacher but was started
#   without it (tools/train.py, dist_train.sh, mim: only self_train.py
#   loads the teacher), naming the fixes; JointStateHook keeps the
#   normalizer's averages under checkpoint['joint_state_dict'], so that the
#   checkpoint's state_dict is the plain detector's (tools/test.py with the
#   teacher config loads it without unexpected keys).
# - student_loader / mixed: 1 human : 1 pseudo image in every batch on every
#   rank (MixedSourceSampler), iteration-based (no epoch): 256 + 256 images
#   per iteration [V] on 32 GPUs x (8 + 8); the sources in the order of the
#   datasets: [human, pseudo].
# - unlabeled: what turns the teacher's human dataset dict into the pseudo
#   one (same pipeline), per unlabeled image set: a PseudoLabelDataset on the
#   store that tools/self_train.py writes and points every
#   PseudoLabelDataset of train_dataloader at (`store` here is the default
#   of a manual run, relative to data_root); boxes kept at score >= 0.5 [V];
#   images left without a box are dropped. The store keeps image paths
#   relative to the folder given to the labeler (--unlabeled), which is
#   data_root + data_prefix.img here: ImageNet train (labels discarded, the
#   paper's main unlabeled set [V]), COCO unlabeled2017 and Open Images
#   train (the paper's Table 13 source [V]).
student_model = dict(
    _delete_=True,
    type='SelfTrainingDetector',
    loss_norm=dict(
        pseudo_weight=1.0, decay=0.9997, normalize=True, overall_factor=True),
    score_weighted=False)
student_init = 'teacher'
student_hooks = [
    dict(type='StudentInitCheckHook'),
    dict(type='JointStateHook')
]
# MixedSourceSampler's defaults: infinite (epoch_source=None), aspect-ratio
# grouping on
student_loader = dict(
    batch_size=16,
    sampler=dict(
        _delete_=True, type='MixedSourceSampler', source_ratio=[1, 1]),
    batch_sampler=dict(_delete_=True, type='MixedSourceBatchSampler'))
mixed = dict(
    _delete_=True, type='MultiSourceDataset', sources=['human', 'pseudo'])
pseudo_label_dataset = dict(
    type='PseudoLabelDataset',
    ann_file='',
    store='pseudo_labels',
    score_thr=0.5,
    keep_empty=False)
unlabeled = dict(
    in1k=dict(
        pseudo_label_dataset,
        data_root='data/imagenet/',
        data_prefix=dict(img='train/')),
    unlabeled2017=dict(
        pseudo_label_dataset,
        data_root='data/coco/',
        data_prefix=dict(img='unlabeled2017/')),
    oid=dict(
        pseudo_label_dataset,
        data_root='data/openimages/',
        data_prefix=dict(img='train/')))
