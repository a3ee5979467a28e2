# A tiny Semantic-FPN segmentor trained from random init on the shapes class
# maps (CPU): the teacher and supervised arm of the shapes segmentation
# study (Zoph et al. 2020, Sec. 3.2 on PASCAL VOC, in miniature). SGD with
# cosine decay, as the paper's segmentation runs (LR 0.08 at batch 256 there;
# here 0.02 at batch 4 with GN), weight decay 1e-5 as the paper's.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../../_base_/models/fpn_r18-tiny_gn.py',
    '../../_base_/datasets/shapes_seg.py',
]
env_cfg = dict(cudnn_benchmark=False)
max_iters = 600
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-5),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - 30,
        by_epoch=False,
        begin=30,
        end=max_iters)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
