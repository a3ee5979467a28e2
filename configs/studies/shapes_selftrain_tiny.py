# A smoke study of self-training (Zoph et al. 2020, Sec. 3) on the built-in
# shapes dataset: the tiny Mask R-CNN teacher (configs/shapes/, GN-all from
# random init) is an arm of its own; the self-training arm pseudo-labels the
# unlabeled split with that arm's final checkpoint and trains the student of
# configs/shapes/*_selftrain_shapes.py on human + pseudo labels, all through
# tools/self_train.py. A handful of iterations each: the machinery end to
# end (stages, cost ratio against the teacher, pseudo-label quality), not a
# result.
#
#   python tools/make_shapes.py --out data/shapes
#   python tools/study.py configs/studies/shapes_selftrain_tiny.py \
#       --work-dir work_dirs/studies/shapes_selftrain_tiny
#
# SHAPES_ROOT=/path overrides the data root. Pseudo-label quality needs the
# unlabeled split's hidden ground truth,
# <root>/annotations/instances_unlabeled_hidden.json (a file training never
# reads); without it the report says so and skips the quality.
_base_ = './shapes_tiny.py'  # for its _short_run overrides

_root = '{{$SHAPES_ROOT:data/shapes}}/'
_student = '../shapes/mask-rcnn_r18-scratch_fpn_gn-all_selftrain_shapes.py'
_pseudo = 'train_dataloader.dataset.datasets.1.'
_pseudo_thr = 0.05  # a 4-iteration teacher scores far below Zoph's 0.5

name = 'shapes-selftrain-tiny'
description = ('Smoke study: tiny Mask R-CNN teacher on the shapes train '
               'split, and a self-trained student (human + pseudo labels of '
               'the unlabeled split, loss normalization).')
arms = [
    dict(
        name='teacher',
        config='../shapes/mask-rcnn_r18-scratch_fpn_gn-all_shapes.py',
        labels=dict(method='supervised'),
        cfg_options=[
            {{_base_._short_run}},
            {
                'train_dataloader.dataset.data_root': _root,
                'train_cfg.max_iters': 4
            },
        ],
        seed=0),
    dict(
        name='selftrain',
        kind='self_train',
        config=_student,
        labels=dict(method='self-training'),
        cfg_options=[
            {{_base_._short_run}},
            {
                'train_dataloader.dataset.datasets.0.data_root': _root,
                _pseudo + 'data_root': _root,
                _pseudo + 'score_thr': _pseudo_thr,
                'train_cfg.max_iters': 4,
            },
        ],
        teacher_arm='teacher',  # also the cost counterpart
        unlabeled=_root + 'annotations/image_info_unlabeled.json',
        img_root=_root + 'unlabeled',
        score_thr=_pseudo_thr,
        pseudo_gt=_root + 'annotations/instances_unlabeled_hidden.json',
        quality_thrs=[0.3, 0.5],
        seed=0),
]
metrics = [
    dict(key='coco/bbox_mAP_50', name='box AP50', scale=100, digits=2),
    dict(key='coco/segm_mAP_50', name='mask AP50', scale=100, digits=2),
]
tables = [dict(title='Teacher vs student', rows='method')]
