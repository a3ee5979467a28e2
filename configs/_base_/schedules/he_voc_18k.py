# He et al. 2019, PASCAL VOC (pre-trained 82.7 vs random init 77.6 mAP):
# VOC 2007+2012 trainval at batch 16, lr 0.02 and LR x0.1 as on COCO.
# Fine-tuned from ImageNet: 18k iterations (82.7 mAP). The steps are
# not in our paper notes: Detectron2's PascalVOC-Detection config
# (18k iterations, steps 12k and 16k, lr 0.02 at batch 16).
# 18k: 18000 iterations at batch 16, lr 0.02, LR x0.1 at
# 12000 and 16000; warm-up 500 iterations, linear from 1/3x the LR
# (Detectron's, which He et al. keep).
# Rendered by rethink_mmdet.scratch.schedule_fragments (tools/he_schedule.py);
# tests/scratch/test_schedule.py checks it against he_schedule().
# The resumable loop (rethink_mmdet.engine.loops): a restart continues at
# the saved sampler position, without loading the trained batches again.
train_cfg = dict(
    type='ResumableIterBasedTrainLoop', max_iters=18000, val_interval=6000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    # warm-up: Detectron's WARM_UP_ITERS / WARM_UP_FACTOR
    dict(
        type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=18000,
        by_epoch=False,
        milestones=[12000, 16000],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
# The LR above is already scaled to the batch size.
auto_scale_lr = dict(enable=False, base_batch_size=16)
