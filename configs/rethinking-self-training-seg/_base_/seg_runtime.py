# Runtime of the Zoph et al. 2020 PASCAL arms: mmseg's default runtime,
# iteration-based, checkpoints every 5k iterations (atomically written, as
# He et al.'s runtime), automatic resume, and SyncBNGuardHook (refuses to
# train the SyncBN model on one process, where SyncBN would be per-GPU BN;
# the detection grid's runtimes list it too). Hooks and the checkpoint
# backend are rethink_mmdet's, registered in mmdet's registries: named with
# the `mmdet.` scope from these mmseg configs.
_base_ = 'mmseg::_base_/default_runtime.py'

# (mmseg's default_runtime.py has none: its schedule fragments list them)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=5000,
        max_keep_ckpts=3,
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=False)
resume = True
# the long-run runner of the detection grid (../../_base_/he_runtime.py):
# SIGTERM / SIGUSR1 -> checkpoint + exit 75, every rank's RNG continued on
# resume (with the schedules' ResumableIterBasedTrainLoop)
runner_type = 'mmdet.LongRunRunner'
# Whole list (lists are replaced, not merged): seg-scratch_runtime.py
# extends it by restating it; images / pixels seen (He et al. Fig. 2)
custom_hooks = [
    dict(type='mmdet.SyncBNGuardHook'),
    dict(type='mmdet.ImagesSeenHook')
]
