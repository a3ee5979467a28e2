"""Engine pieces: safe checkpoint loading, launch helpers (and, later, hooks
and loops for long preemptible runs)."""
from .checkpoint_safety import (CHECKPOINT_SAFE_GLOBALS,
                                TRUSTED_CHECKPOINTS_ENV,
                                UntrustedCheckpointError,
                                load_local_checkpoint,
                                safe_global_names,
                                register_checkpoint_safe_globals)
from .launch import add_launch_args, load_config, setup_launcher

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'TRUSTED_CHECKPOINTS_ENV',
    'UntrustedCheckpointError', 'load_local_checkpoint',
    'register_checkpoint_safe_globals', 'safe_global_names', 'add_launch_args', 'load_config',
    'setup_launcher'
]
