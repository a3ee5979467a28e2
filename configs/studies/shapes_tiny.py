# A smoke study on the built-in shapes dataset: the tiny RetinaNet
# (configs/shapes/, GN-all from random init) trained for 4 and for 8
# iterations, 2 seeds each - the study machinery end to end in well under a
# minute on 2 CPU cores (too short to learn anything: AP stays near 0).
#
#   python tools/make_shapes.py --out data/shapes
#   python tools/study.py configs/studies/shapes_tiny.py \
#       --work-dir work_dirs/studies/shapes_tiny
#
# Another data root: SHAPES_ROOT=/path/to/shapes python tools/study.py ...
# (mmengine's {{$VAR:default}} substitution). Names starting with "_" are
# helpers of this file, not study keys.
_root = '{{$SHAPES_ROOT:data/shapes}}/'
_val_ann = _root + 'annotations/instances_val.json'
# Overrides of any shapes config for a run of a few iterations (shared with
# shapes_selftrain_tiny.py as {{_base_._short_run}}).
_short_run = {
    'val_dataloader.dataset.data_root': _root,
    'test_dataloader.dataset.data_root': _root,
    'val_evaluator.ann_file': _val_ann,
    'test_evaluator.ann_file': _val_ann,
    'train_cfg.val_interval': 4,
    'default_hooks.checkpoint.interval': 4,
    'default_hooks.logger.interval': 1,
    # images / pixels seen for the He et al. Fig. 2 style plots; a
    # student's loss-normalization averages under the checkpoint's own key
    'custom_hooks': [dict(type='ImagesSeenHook'),
                     dict(type='JointStateHook')],
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'val_dataloader.num_workers': 0,
    'val_dataloader.persistent_workers': False,
    'test_dataloader.num_workers': 0,
    'test_dataloader.persistent_workers': False,
}

name = 'shapes-tiny'
description = ('Smoke study: tiny RetinaNet (GN-all, random init) on the '
               'built-in shapes data, 4 vs 8 iterations, 2 seeds.')
arms = [
    dict(
        name='retinanet-{iters}it',
        config='../shapes/retinanet_r18-scratch_fpn_gn-all_shapes.py',
        grid=dict(iters=[4, 8]),
        labels=dict(model='RetinaNet R18-tiny GN'),
        cfg_options=[
            _short_run,
            {
                'train_dataloader.dataset.data_root': _root,
                'train_cfg.max_iters': '{iters}',
                # keep every box: a barely trained RetinaNet scores below
                # the 0.05 default and would give an empty evaluation
                'model.test_cfg.score_thr': 0.0,
            },
        ],
        seeds=[0, 1]),
]
metrics = [
    dict(key='coco/bbox_mAP_50', name='box AP50', scale=100, digits=2),
    dict(key='loss', name='final loss', digits=3),
]
tables = [
    # He et al. 2019 Table layout: the schedule as columns
    dict(
        title='Box AP50 by schedule',
        metrics=['coco/bbox_mAP_50'],
        rows='model',
        columns='iters'),
    dict(title='All metrics', metrics=['coco/bbox_mAP_50', 'loss']),
]
