# He et al. 2019 ("Rethinking ImageNet Pre-training") as one study: Mask
# R-CNN R50/R101-FPN GN-all from random init vs fine-tuned from ImageNet at
# 2x-6x (their Fig. 1/4, Table: box AP on COCO val2017), the less-data
# regimes of Sec. 5.2 (35k, 10k, 3.5k, 1k COCO train images) and the PASCAL
# VOC comparison, with the paper's numbers beside ours in the report.
#
#   python tools/study.py \
#       configs/rethinking-imagenet-pretraining/study_he2019_coco.py \
#       --work-dir work_dirs/studies/he2019 --launcher slurm --partition P \
#       --gpus 8
#   python tools/study.py status work_dirs/studies/he2019
#   python tools/study.py report work_dirs/studies/he2019
#
# Every arm is a config of this folder (batch 16 = 8 GPUs x 2 images, its
# schedule in its name); the less-data subsets are made first with
# tools/make_subset.py (each config's header has the command). One seed per
# arm, as the paper reports; add seeds=[0, 1, 2] for mean +- std. Names
# starting with "_" are helpers of this file, not study keys.
_box, _mask, _voc = 'coco/bbox_mAP', 'coco/segm_mAP', 'pascal_voc/mAP'

name = 'he2019-rethinking-imagenet-pretraining'
description = ('He et al. 2019: training from random init vs fine-tuning '
               'from ImageNet (GN-all, nothing frozen) across schedules, '
               'depths, COCO subsets and PASCAL VOC.')
arms = [
    # Fig. 1/4 and their table: 2x-6x, R50/R101, both inits.
    dict(
        name='mask-rcnn-{depth}-{init}-{sched}',
        config='mask-rcnn_{depth}-{init}_fpn_gn-all_{sched}_coco.py',
        grid=dict(
            depth=['r50', 'r101'],
            init=['scratch', 'imagenet'],
            sched=['2x', '3x', '4x', '5x', '6x']),
        labels=dict(data='coco'),
        seed=0),
]
# Sec. 5.2, less data: scale [512, 800], lr 0.04, LR decay 0.02; 35k at 6x
# for both inits, 10k (and the 3.5k / 1k reuse of it) at 220k from random
# init and 60k from ImageNet.
for _size, _sched in (('35k', ('6x', '6x')), ('10k', ('220k', '60k')),
                      ('3.5k', ('220k', '60k')), ('1k', ('220k', '60k'))):
    for _init, _iters in zip(('scratch', 'imagenet'), _sched):
        arms.append(
            dict(
                name=f'mask-rcnn-r50-{_init}-coco-{_size}',
                config=f'mask-rcnn_r50-{_init}_fpn_gn-all_ms-512-800-'
                f'{_iters}_coco-{_size}.py',
                labels=dict(
                    init=_init,
                    data=f'coco-{_size}',
                    sched=_iters,
                    regime='less-data'),
                seed=0))
# PASCAL VOC 2007+2012 -> VOC 2007 test: 144k from random init, 18k from
# ImageNet (VOC mAP at IoU 0.5).
for _init, _iters in (('scratch', '144k'), ('imagenet', '18k')):
    arms.append(
        dict(
            name=f'faster-rcnn-r50-{_init}-voc',
            config=f'faster-rcnn_r50-{_init}_fpn_gn-all_{_iters}_voc0712.py',
            labels=dict(init=_init, data='voc', sched=_iters),
            seed=0))

metrics = [
    dict(key=_box, name='box AP', scale=100),
    dict(key=_mask, name='mask AP', scale=100),
    dict(key=_voc, name='VOC mAP', scale=100),
]
tables = [
    dict(
        title='COCO box AP by schedule (He et al. 2019, GN, Mask R-CNN)',
        metrics=[_box],
        rows=['depth', 'init'],
        columns='sched',
        where=dict(data='coco')),
    dict(
        title='Less data: box AP by number of COCO train images (Sec. 5.2)',
        metrics=[_box],
        rows=['init'],
        columns='data',
        where=dict(regime='less-data')),
    dict(
        title='PASCAL VOC 2007 test mAP',
        metrics=[_voc],
        rows=['init', 'sched'],
        where=dict(data='voc')),
]
curve_metrics = [_box, _voc]

# The paper's numbers (box AP; mask AP of the converged 6x models; VOC mAP).
_paper_box = {
    ('r50', 'scratch'): [36.8, 39.5, 40.6, 40.7, 41.3],
    ('r50', 'imagenet'): [40.3, 40.8, 40.9, 40.9, 41.1],
    ('r101', 'scratch'): [38.2, 41.0, 41.8, 42.2, 42.7],
    ('r101', 'imagenet'): [41.8, 42.3, 42.3, 41.9, 42.2],
}
references = {
    f'mask-rcnn-{_d}-{_i}-{_n}x': {
        _box: _aps[_n - 2]
    }
    for (_d, _i), _aps in _paper_box.items()
    for _n in range(2, 7)
}
for _arm, _ap in (('r50-scratch', 36.6), ('r50-imagenet', 36.4),
                  ('r101-scratch', 37.6), ('r101-imagenet', 37.2)):
    references[f'mask-rcnn-{_arm}-6x'][_mask] = _ap
for _size, (_scratch,
            _imagenet) in (('35k', (36.3, 36.3)), ('10k', (25.9, 26.0)),
                           ('3.5k', (9.3, 16.0)), ('1k', (3.5, 9.9))):
    references[f'mask-rcnn-r50-scratch-coco-{_size}'] = {_box: _scratch}
    references[f'mask-rcnn-r50-imagenet-coco-{_size}'] = {_box: _imagenet}
references['faster-rcnn-r50-scratch-voc'] = {_voc: 77.6}
references['faster-rcnn-r50-imagenet-voc'] = {_voc: 82.7}
