# The self-training student of Zoph et al. 2020 (Sec. 3 and App. B), as
# pieces that a student config assembles around its teacher config (see
# ../../README.md): the teacher's detector inside SelfTrainingDetector,
# trained on a MultiSourceDataset of the teacher's human data and the
# pseudo labels, every batch half human, half pseudo. Every arm
# (../arms/) inherits this, so a teacher config carries these keys unused.
#
# - student_model: L = 1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p), a =
#   pseudo_weight, Lbar the moving averages (momentum); the form, a and the
#   momentum are not verified against the paper text [U]; normalize=False
#   gives the plain joint loss L_h + a * L_p. Hard pseudo labels (the
#   paper); score_weighted=True weights L_p by the mean teacher score.
# - student_loader / mixed: 1 human : 1 pseudo image in every batch on
#   every rank (MixedSourceSampler), iteration-based (no epoch); the
#   sources in the order of the datasets: [human, pseudo].
# - unlabeled: what turns the teacher's human dataset dict into the pseudo
#   one (same pipeline), per unlabeled image set: a PseudoLabelDataset on
#   the store that tools/self_train.py writes and points every
#   PseudoLabelDataset of train_dataloader at (`store` here is the default
#   of a manual run, relative to data_root); boxes kept at score >= 0.5
#   [U]; images left without a box are dropped. The store keeps image paths
#   relative to the folder given to the labeler (--unlabeled), which is
#   data_root + data_prefix.img here: data/imagenet/train (ImageNet train,
#   labels discarded, Zoph et al.'s main unlabeled set [V]) and
#   data/coco/unlabeled2017 (COCO unlabeled [V]).
student_model = dict(
    _delete_=True,
    type='SelfTrainingDetector',
    loss_norm=dict(
        pseudo_weight=1.0, momentum=0.99, normalize=True, overall_factor=True),
    score_weighted=False)
# MixedSourceSampler's defaults: infinite (epoch_source=None), aspect-ratio
# grouping on
student_loader = dict(
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
    imagenet=dict(
        pseudo_label_dataset,
        data_root='data/imagenet/',
        data_prefix=dict(img='train/')),
    unlabeled2017=dict(
        pseudo_label_dataset,
        data_root='data/coco/',
        data_prefix=dict(img='unlabeled2017/')))
