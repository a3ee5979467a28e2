# The main job (`make demo`, tools/shapes_demo.py): a mini-replication of
# both papers on the built-in shapes data, one study, 2 CPU cores.
#
# 1. He et al. 2019: the tiny GN-all RetinaNet from random init against the
#    same detector whose backbone was pre-trained by the package on a shapes
#    classification task (the ImageNet stand-in; the arm `pretrain` trains
#    it, the `pretrained-*` arms start from its final checkpoint through
#    init_arm), fine-tuned with GN, at a short (2x) and a long (6x) schedule
#    of He et al.'s rule scaled down (below); AP against iterations and
#    images seen, the pre-training's images counted in the cost.
# 2. Zoph et al. 2020: a teacher (the same RetinaNet, Aug-S1) on a small
#    labeled part of the train split (20%), pseudo labels of the unlabeled
#    split, students with and without loss normalization at a weak (Aug-S1)
#    and a strong (Aug-S4) augmentation, against the teacher and a
#    supervised Aug-S4 arm, with the pseudo labels' quality against the
#    unlabeled split's hidden ground truth.
#
#   python tools/shapes_demo.py            # data + this study + its report
#   python tools/study.py configs/studies/shapes_mini_replication.py \
#       --work-dir work_dirs/shapes_demo --jobs 2
#
# Environment knobs (mmengine's {{$VAR:default}} substitution; the test runs
# a tiny version with them): SHAPES_ROOT, SHAPES_CLS_ROOT (data roots),
# MINI_ITERS_PER_X (iterations of the scaled 1x, default 150),
# MINI_PRETRAIN_ITERS (classifier pre-training, default 1000),
# MINI_LABELED (labeled images of the Zoph arms, default 120),
# MINI_PSEUDO_THR (the students' pseudo-label score threshold, default 0.3),
# MINI_TEST_SCORE_THR (the detectors' test score floor, default mmdet's 0.05;
# a few-iteration detector scores below it and would evaluate to nothing).
#
# `_base_ = []` keeps this a classic mmengine config although it imports
# he_schedule (mmengine reads a config with imports and no _base_ as a
# "lazy import" config). Names starting with "_" are helpers of this file.
_base_ = []
import math  # noqa: E402

from rethink_mmdet.scratch.schedule import he_schedule  # noqa: E402

_root = '{{$SHAPES_ROOT:data/shapes}}/'
_cls_root = '{{$SHAPES_CLS_ROOT:data/shapes_cls}}/'
_x = int('{{$MINI_ITERS_PER_X:150}}')
_pretrain_iters = int('{{$MINI_PRETRAIN_ITERS:1000}}')
_labeled = int('{{$MINI_LABELED:120}}')
_thr = float('{{$MINI_PSEUDO_THR:0.3}}')
_test_thr = float('{{$MINI_TEST_SCORE_THR:0.05}}')
_batch = 4
_lr = 0.03  # at batch 4 (the He et al. GN recipe's LR is 0.02 at batch 16)

# He et al. 2019, Sec. 4, scaled down: 1x = 90k iterations at batch 16 is
# here _x iterations, and "reduce the LR by 10x in the last 60k and the last
# 20k iterations" becomes the last 2/3 x and 2/9 x (he_schedule's
# iters_per_x), at the LR _lr of our batch of 4. Warm-up: x/3 iterations
# from 1/3 (Detectron's factor; its 500 of 90k iterations would be under one
# iteration here).


def _he(n):
    s = he_schedule(
        multiple=n,
        batch_size=_batch,
        base_lr=_lr * 16 / _batch,
        warmup_iters=max(1, _x // 3),
        val_interval=_x,
        iters_per_x=_x)
    return {
        'train_cfg': s['train_cfg'],  # ResumableIterBasedTrainLoop
        'param_scheduler': s['param_scheduler'],
        'optim_wrapper.optimizer.lr': s['lr'],
        'default_hooks.checkpoint.interval': s['max_iters'],
    }


_sched = {'2x': _he(2), '6x': _he(6)}
_val_ann = _root + 'annotations/instances_val.json'
# Training lines every _log iterations, a divisor of the evaluation interval
# (the report gives an evaluation the iteration / images seen of the line
# logged before it).
_log = math.gcd(_x, math.gcd(_pretrain_iters, 10))
_runtime = {
    'default_hooks.logger.interval': _log,
    'log_processor.window_size': _log,
    'default_hooks.checkpoint.max_keep_ckpts': 1,
    # images / instances / pixels seen (He et al. Fig. 2)
    'custom_hooks': [dict(type='ImagesSeenHook')],
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'val_dataloader.num_workers': 0,
    'val_dataloader.persistent_workers': False,
    'test_dataloader.num_workers': 0,
    'test_dataloader.persistent_workers': False,
}
_det = dict(
    _runtime, **{
        'val_dataloader.dataset.data_root': _root,
        'test_dataloader.dataset.data_root': _root,
        'val_evaluator.ann_file': _val_ann,
        'test_evaluator.ann_file': _val_ann,
    })
_train_data = {
    'train_dataloader.dataset.data_root': _root,
    'model.detector.test_cfg.score_thr': _test_thr,
}
_labeled_part = dict(_train_data,
                     **{'train_dataloader.dataset.indices': _labeled})
_here = 'shapes_mini_replication/retinanet_r18-scratch_fpn_gn-all_'
_student_data = {
    'train_dataloader.dataset.datasets.0.data_root': _root,
    'train_dataloader.dataset.datasets.0.indices': _labeled,
    'train_dataloader.dataset.datasets.1.data_root': _root,
    'train_dataloader.dataset.datasets.1.score_thr': _thr,
    # SelfTrainingDetector(ScratchNormDetector(detector))
    'model.detector.detector.test_cfg.score_thr': _test_thr,
}
_pseudo = dict(
    unlabeled=_root + 'annotations/image_info_unlabeled.json',
    img_root=_root + 'unlabeled',
    # the labeler's floor: the store also holds boxes below the students'
    # threshold, so the quality table shows what a lower one would keep
    score_thr=round(_thr / 3, 4),
    pseudo_gt=_root + 'annotations/instances_unlabeled_hidden.json',
    quality_thrs=[_thr, 0.5],
    teacher_arm='teacher',
    counterpart='teacher')
name = 'shapes-mini-replication'
description = (
    'He et al. 2019 (random init vs a backbone pre-trained by the package '
    'on shapes classification, GN-all, 2x and 6x of the scaled schedule '
    'rule) and Zoph et al. 2020 (teacher on 20% of the labels, students '
    'with and without loss normalization at Aug-S1 and Aug-S4) with the '
    'tiny RetinaNet on the built-in shapes data.')
_augs = {'Aug-S1': 'aug-s1', 'Aug-S4': 'aug-s4'}
_norms = {'loss norm': True, 'plain joint loss': False}
arms = [
    dict(
        name='pretrain',
        config='../shapes/cls_r18-tiny_gn_shapes-cls.py',
        labels=dict(part='pre-training'),
        cfg_options=[
            _runtime, {
                'train_dataloader.dataset.data_root':
                _cls_root,
                'val_dataloader.dataset.data_root':
                _cls_root,
                'test_dataloader.dataset.data_root':
                _cls_root,
                'train_cfg.max_iters':
                _pretrain_iters,
                'train_cfg.val_interval':
                _pretrain_iters,
                'param_scheduler.1.end':
                _pretrain_iters,
                'param_scheduler.1.milestones':
                [int(_pretrain_iters * 0.75),
                 int(_pretrain_iters * 0.92)],
                'default_hooks.checkpoint.interval':
                _pretrain_iters,
            }
        ]),
] + [
    dict(
        name=f'scratch-{sched}',
        config='../shapes/retinanet_r18-scratch_fpn_gn-all_shapes.py',
        labels=dict(part='He et al.', init='random init', sched=sched),
        cfg_options=[_det, _train_data, _sched[sched]]) for sched in _sched
] + [
    dict(
        name=f'pretrained-{sched}',
        config='../shapes/retinanet_r18-pretrained_fpn_gn-all_shapes.py',
        labels=dict(part='He et al.', init='pre-trained', sched=sched),
        init_arm='pretrain',
        init_key='model.backbone_init_cfg.checkpoint',
        counterpart=f'scratch-{sched}',
        cfg_options=[_det, _train_data, _sched[sched]]) for sched in _sched
] + [
    dict(
        name='teacher' if aug == 'Aug-S1' else f'supervised-{a}',
        config=_here + f'{a}_shapes.py',
        labels=dict(part='Zoph et al.', aug=aug, method='supervised'),
        cfg_options=[
            _det,
            _labeled_part,
            _sched['6x'],
            {
                # the labeler keeps the teacher's boxes down to its floor
                'model.detector.test_cfg.score_thr': min(0.05, _thr / 3)
            }
        ]) for aug, a in _augs.items()
] + [
    dict(
        name=f'student-{a}-{"norm" if norm else "plain"}',
        kind='self_train',
        config=_here + f'selftrain_{a}_shapes.py',
        labels=dict(
            part='Zoph et al.', aug=aug, method=f'self-training, {method}'),
        cfg_options=[
            _det, _student_data, _sched['6x'], {
                'model.loss_norm.normalize': norm
            }
        ],
        **_pseudo) for aug, a in _augs.items()
    for method, norm in _norms.items()
]
metrics = [
    dict(key='coco/bbox_mAP', name='box AP', scale=100),
    dict(key='coco/bbox_mAP_50', name='box AP50', scale=100),
    dict(key='accuracy/top1', name='top-1 accuracy'),
]
# He et al. 2019, Table 1 / Fig. 1 (COCO val2017, Mask R-CNN R50-FPN GN, box
# AP): another dataset and model, shown for the direction of the comparison.
references = {
    'scratch-2x': {
        'coco/bbox_mAP': 36.8
    },
    'scratch-6x': {
        'coco/bbox_mAP': 41.3
    },
    'pretrained-2x': {
        'coco/bbox_mAP': 40.3
    },
    'pretrained-6x': {
        'coco/bbox_mAP': 41.1
    },
}
tables = [
    dict(
        title='He et al. 2019 (Table 1 layout): box AP by schedule',
        metrics=['coco/bbox_mAP'],
        rows='init',
        columns='sched',
        where=dict(part='He et al.')),
    dict(
        title='Zoph et al. 2020 (Table 2 layout): box AP by augmentation',
        metrics=['coco/bbox_mAP'],
        rows='method',
        columns='aug',
        where=dict(part='Zoph et al.')),
    dict(
        title='Every arm',
        metrics=['coco/bbox_mAP', 'coco/bbox_mAP_50', 'accuracy/top1']),
]
