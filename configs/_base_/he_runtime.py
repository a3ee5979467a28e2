# Runtime for He et al. 2019's long iteration-based COCO runs (up to 9x =
# 810k iterations): mmdet's default runtime plus
# - iteration-based, atomically written checkpoints (the 'atomic_local'
#   backend: a run killed mid-write never leaves a file resume picks up);
# - `resume = True`: restarting the same command resumes from
#   work_dir/last_checkpoint (fresh start when there is none);
# - runner_type = 'mmdet.LongRunRunner' (the scope prefix lets mmengine's
#   root RUNNERS, which mmdet's tools/train.py builds with, find it):
#   SIGTERM/SIGUSR1 (SLURM preemption) -> checkpoint at the current
#   iteration, exit code 75 (EX_TEMPFAIL), all ranks together; the resumed
#   run continues every rank's exact random streams;
# - ImagesSeenHook: images / instances / pixels seen, summed over ranks
#   (He et al. 2019, Fig. 2), logged and stored in checkpoints.
# The runner and hooks are rethink_mmdet's: the config that lists this
# fragment needs `custom_imports = dict(imports=['rethink_mmdet'])` (the
# he2019 model fragments set it; one `_base_` list cannot set it twice).
_base_ = 'mmdet::_base_/default_runtime.py'

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10000,
        max_keep_ckpts=3,
        backend_args=dict(backend='atomic_local')))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
resume = True
runner_type = 'mmdet.LongRunRunner'
# Whole list (lists are replaced, not merged): he-scratch_runtime.py extends
# it by restating it.
custom_hooks = [dict(type='ImagesSeenHook')]
