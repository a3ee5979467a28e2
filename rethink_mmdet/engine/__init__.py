"""Engine pieces: safe checkpoint loading, launch helpers, images-seen
accounting (and hooks for long preemptible runs)."""
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

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'TRUSTED_CHECKPOINTS_ENV',
    'UntrustedCheckpointError', 'load_local_checkpoint',
    'register_checkpoint_safe_globals', 'safe_global_names', 'add_launch_args', 'load_config',
    'setup_launcher', 'ImagesSeenHook', 'count_data_batch', 'IMAGES_SEEN',
    'INSTANCES_SEEN', 'PIXELS_SEEN', 'COUNT_NAMES', 'SCALAR_KEYS',
    'IMAGES_SEEN_CHECKPOINT_KEY'
]
