# The schedule of Zoph et al. 2020's released self-training detector
# (tensorflow/tpu projects/self_training, SpineNet-143 config [V]: batch
# 256, 231.5k steps, lr 0.28 with 2k warm-up steps, LR x0.1 at steps
# 217,610 and 226,870, weight decay 4e-5, gradient clipping at norm 10,
# SyncBN), linearly scaled to batch 32 = 8 GPUs x 4 images (the student's 4
# = 2 human + 2 pseudo): lr 0.28 * 32/256 = 0.035; every step count x 8:
# 1,852,000 iterations, LR steps at 1,740,880 and 1,814,960, 16,000 warm-up
# iterations. Marks: the paper trains each arm "until it converges" and
# gives no per-arm length here [U]; this one schedule for every arm, the
# linear scaling to 8 GPUs, SGD momentum 0.9, the warm-up start factor and
# no weight decay on norm and bias parameters (the TPU code's L2 skips batch
# norm) are [U]. Shorter runs: --cfg-options train_cfg.max_iters=N
# param_scheduler.1.end=N "param_scheduler.1.milestones=[A,B]".
# Iteration-based with the resumable loop: a resumed run continues the mixed
# sampler's sequence without replaying batches.
max_iters = 1852000
train_cfg = dict(
    type='ResumableIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=92600)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.001,
        by_epoch=False,
        begin=0,
        end=16000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[1740880, 1814960],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.035, momentum=0.9, weight_decay=4e-5),
    # bypass_duplicate: RetinaSepBNHead (B7) shares its convs across levels
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0., bypass_duplicate=True),
    clip_grad=dict(max_norm=10, norm_type=2))
# The LR above is already scaled to the batch size.
auto_scale_lr = dict(enable=False, base_batch_size=32)
