# He et al. 2019, Sec. 5.2 ("less data"), 35k images, 6x = 540k iterations at batch 16.
# From the paper: lr 0.04 at batch 16 and the LR decay factor 0.02 (used here
# as the factor of both LR steps), scale augmentation [512, 800] (in the
# configs). 6x (both inits reach 36.3 AP) is from the paper; the steps follow its
# "last 60k and 20k iterations" rule.
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=540000, val_interval=90000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False,
         begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=540000,
        by_epoch=False,
        milestones=[480000, 520000],
        gamma=0.02)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
auto_scale_lr = dict(enable=False, base_batch_size=16)
