# He et al. 2019, Sec. 5.2 ("less data"): lr 0.04 at batch 16 and the LR
# decay factor 0.02 (used here as the factor of both LR steps); the scale
# augmentation [512, 800] is in the configs.
# 10k images from random init: 220k iterations (25.9 AP); the steps
# follow the "last 60k and 20k iterations" rule of Sec. 4.
# 220k: 220000 iterations at batch 16, lr 0.04, LR x0.02 at
# 160000 and 200000; warm-up 500 iterations, linear from 1/3x the LR
# (Detectron's, which He et al. keep).
# Rendered by rethink_mmdet.scratch.schedule_fragments (tools/he_schedule.py);
# tests/scratch/test_schedule.py checks it against he_schedule().
# The resumable loop (rethink_mmdet.engine.loops): a restart continues at
# the saved sampler position, without loading the trained batches again.
train_cfg = dict(
    type='ResumableIterBasedTrainLoop', max_iters=220000, val_interval=20000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    # warm-up: Detectron's WARM_UP_ITERS / WARM_UP_FACTOR
    dict(
        type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=220000,
        by_epoch=False,
        milestones=[160000, 200000],
        gamma=0.02)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
# The LR above is already scaled to the batch size.
auto_scale_lr = dict(enable=False, base_batch_size=16)
