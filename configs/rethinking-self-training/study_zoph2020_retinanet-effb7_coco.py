# Zoph et al. 2020 ("Rethinking Pre-training and Self-training") as one
# study: RetinaNet EfficientNet-B7-FPN (the paper's detector) on 20%, 50% and
# 100% of the COCO labels x Aug-S1..S4 x {Rand Init, ImageNet Init}, each
# trained supervised (the teacher) and self-trained (its student on pseudo
# labels of ImageNet train, chained teacher -> labels -> student by
# tools/self_train.py), with the report's cost ratio of every student to
# its teacher (the paper: 1.3x to 8x).
#
#   S=configs/rethinking-self-training/study_zoph2020_retinanet-effb7_coco.py
#   python tools/study.py $S \
#       --work-dir work_dirs/studies/zoph2020 --launcher slurm --partition P \
#       --gpus 8
#
# The configs are this folder's generated grid (8 GPUs x 4 images); the label
# subsets and ImageNet train (data/imagenet/train/, or IMAGENET_TRAIN=...)
# as its README says. Our notes on the paper hold no per-arm AP, only its
# findings, so the arms carry no reference numbers; the findings to compare
# against are (Zoph et al. 2020, our notes [V]): self-training +1.3 to +3.4
# AP at every label fraction; at 20% self-training +3.4 AP over Rand Init,
# ImageNet Init +2.6 over Rand Init and self-training a further +2.7 on top
# of it; ImageNet pre-training hurts at 100% with strong augmentation (-1.0
# AP). Names starting with "_" are helpers of this file, not study keys.
_box = 'coco/bbox_mAP'
_grid = dict(
    init=['scratch', 'imagenet'],
    aug=['s1', 's2', 's3', 's4'],
    frac=['20p', '50p', '100p'])
_teacher = 'effb7-{init}-aug-{aug}-coco-{frac}'

name = 'zoph2020-rethinking-self-training'
description = ('Zoph et al. 2020: supervised (Rand Init / ImageNet Init) vs '
               'self-training (pseudo labels of ImageNet train) for '
               'RetinaNet EfficientNet-B7 over Aug-S1..S4 and 20/50/100% of '
               'the COCO labels.')
arms = [
    dict(
        name=_teacher,
        config='retinanet_effb7-{init}_fpn_syncbn-all_aug-{aug}_coco-{frac}'
        '.py',
        grid=_grid,
        labels=dict(method='supervised'),
        seed=0),
    dict(
        name=_teacher + '-selftrain',
        kind='self_train',
        config='retinanet_effb7-{init}_fpn_syncbn-all_aug-{aug}_selftrain-'
        'imagenet_coco-{frac}.py',
        grid=_grid,
        labels=dict(method='self-training'),
        teacher_arm=_teacher,  # also its cost counterpart
        unlabeled='{{$IMAGENET_TRAIN:data/imagenet/train}}',
        score_thr=0.5,  # Zoph et al. 2020 [U], as the student configs
        seed=0),
]
metrics = [dict(key=_box, name='box AP', scale=100)]
tables = [
    dict(
        title=f'{_frac[:-1]}% of the COCO labels: box AP by augmentation',
        metrics=[_box],
        rows=['init', 'method'],
        columns='aug',
        where=dict(frac=_frac)) for _frac in _grid['frac']
] + [
    dict(
        title='Aug-S4: box AP by label fraction',
        metrics=[_box],
        rows=['init', 'method'],
        columns='frac',
        where=dict(aug='s4'))
]
