# Iteration-based schedule for the built-in shapes dataset (CPU demo).
# Shape of He et al. 2019 Sec. 4: linear warm-up, then SGD (momentum 0.9,
# weight decay 1e-4, no decay on norm parameters) with two 10x LR drops late
# in training (here at 75% and 92% of the run).
# The train loop is rethink_mmdet's resumable one (as in the He et al.
# fragments, rendered by rethink_mmdet.scratch.schedule): mmengine's
# IterBasedTrainLoop whose sampler position is saved in every checkpoint, so
# a resumed run continues at once instead of loading the trained batches
# again. It needs `custom_imports = dict(imports=['rethink_mmdet'])`.
max_iters = 800
train_cfg = dict(
    type='ResumableIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[600, 736],
        gamma=0.1)
]
