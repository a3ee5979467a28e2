"""Engine pieces: safe checkpoint loading, launch helpers, images-seen
accounting, and long preemptible runs (:class:`LongRunRunner`: checkpoint
on signal, atomic checkpoints, exact RNG continuation; resumable loops).

Importing it checks the mmengine version against the range whose private
API is used (:mod:`.runner_state`, which lists that API)."""
from .atomic_checkpoint import (AtomicLocalBackend, is_complete_checkpoint,
                                repair_last_checkpoint)
from .checkpoint_safety import (TRUSTED_CHECKPOINTS_ENV,
                                UntrustedCheckpointError, safe_global_names)
from .images_seen import (IMAGES_SEEN, INSTANCES_SEEN, PIXELS_SEEN,
                          ImagesSeenHook, count_data_batch)
from .launch import add_launch_args, load_config, setup_launcher
from .loops import ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop
from .preemption import PREEMPTED_EXIT_CODE, PreemptionSignals
from .removed_hooks import PreemptionCheckpointHook, RNGStateHook
from .rng_state import RNG_STATE_KEY, get_rng_state, set_rng_state
from .runner import LongRunRunner
from .runner_state import check_mmengine_version
from .sampler_state import ResumableBatchSampler
from .signals import ignore_in_dataloader_workers
from .startup_gc import end_of_startup

__all__ = [
    'TRUSTED_CHECKPOINTS_ENV', 'UntrustedCheckpointError', 'safe_global_names',
    'add_launch_args', 'load_config', 'setup_launcher', 'ImagesSeenHook',
    'count_data_batch', 'IMAGES_SEEN', 'INSTANCES_SEEN', 'PIXELS_SEEN',
    'AtomicLocalBackend', 'is_complete_checkpoint', 'repair_last_checkpoint',
    'PREEMPTED_EXIT_CODE', 'PreemptionSignals', 'LongRunRunner',
    'PreemptionCheckpointHook', 'RNGStateHook', 'ignore_in_dataloader_workers',
    'RNG_STATE_KEY', 'get_rng_state', 'set_rng_state',
    'check_mmengine_version', 'ResumableIterBasedTrainLoop',
    'ResumableEpochBasedTrainLoop', 'ResumableBatchSampler', 'end_of_startup'
]
