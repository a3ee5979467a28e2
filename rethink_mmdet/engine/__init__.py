"""Engine pieces: safe checkpoint loading, launch helpers, images-seen
accounting, and long preemptible runs (checkpoint on signal, atomic
checkpoints, exact RNG continuation)."""
from .atomic_checkpoint import (ATOMIC_BACKEND, AtomicLocalBackend,
                                atomic_write, is_complete_checkpoint,
                                repair_last_checkpoint)
from .checkpoint_safety import (CHECKPOINT_SAFE_GLOBALS,
                                TRUSTED_CHECKPOINTS_ENV,
                                UntrustedCheckpointError,
                                load_local_checkpoint,
                                safe_global_names,
                                register_checkpoint_safe_globals)
from .images_seen import (CHECKPOINT_KEY as IMAGES_SEEN_CHECKPOINT_KEY,
                          COUNT_NAMES, IMAGES_SEEN, INSTANCES_SEEN,
                          PIXELS_SEEN, SCALAR_KEYS, ImagesSeenHook,
                          count_data_batch)
from .launch import add_launch_args, load_config, setup_launcher
from .preemption import (DEFAULT_SIGNALS, PREEMPTED_EXIT_CODE,
                         PreemptionCheckpointHook,
                         ignore_in_dataloader_workers)
from .rng_state import (RNG_STATE_KEY, RNGStateHook, get_rng_state,
                        set_rng_state)

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'TRUSTED_CHECKPOINTS_ENV',
    'UntrustedCheckpointError', 'load_local_checkpoint',
    'register_checkpoint_safe_globals', 'safe_global_names', 'add_launch_args', 'load_config',
    'setup_launcher', 'ImagesSeenHook', 'count_data_batch', 'IMAGES_SEEN',
    'INSTANCES_SEEN', 'PIXELS_SEEN', 'COUNT_NAMES', 'SCALAR_KEYS',
    'IMAGES_SEEN_CHECKPOINT_KEY', 'ATOMIC_BACKEND', 'AtomicLocalBackend',
    'atomic_write', 'is_complete_checkpoint', 'repair_last_checkpoint',
    'DEFAULT_SIGNALS', 'PREEMPTED_EXIT_CODE', 'PreemptionCheckpointHook',
    'ignore_in_dataloader_workers', 'RNG_STATE_KEY', 'RNGStateHook',
    'get_rng_state', 'set_rng_state'
]
