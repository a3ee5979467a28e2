# He et al. 2019 ("Rethinking ImageNet Pre-training"), Sec. 4: an Nx schedule
# is N*90k iterations at batch 16, with the LR x0.1 at the last 60k and the
# last 20k iterations (1x: Detectron's standard steps 60k, 80k instead).
# 5x: 450000 iterations at batch 16, lr 0.02, LR x0.1 at
# 390000 and 430000; warm-up 500 iterations, linear from 1/3x the LR
# (Detectron's, which He et al. keep).
# Rendered by rethink_mmdet.scratch.schedule_fragments (tools/he_schedule.py);
# tests/scratch/test_schedule.py checks it against he_schedule().
# The resumable loop (rethink_mmdet.engine.loops): a restart continues at
# the saved sampler position, without loading the trained batches again.
train_cfg = dict(
    type='ResumableIterBasedTrainLoop', max_iters=450000, val_interval=90000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    # warm-up: Detectron's WARM_UP_ITERS / WARM_UP_FACTOR
    dict(
        type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=450000,
        by_epoch=False,
        milestones=[390000, 430000],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
# The LR above is already scaled to the batch size.
auto_scale_lr = dict(enable=False, base_batch_size=16)
