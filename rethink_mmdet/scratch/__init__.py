"""He et al. 2019 (training from scratch): scratch norm conversion
(``convert_to_scratch``) and its rendered configs
(``tools/misc/render_scratch_model.py``), the scratch guard and He init
hooks, the SyncBN guard hook and ``EmptySafeSyncBN``, and the schedule rule.

Importing the package registers the hooks and ``EmptySafeSyncBN``
(mmengine's root ``MODELS``, where mmcv looks up norm layers).
``tools/he_schedule.py`` prints or writes schedules.
"""
from .empty_safe_syncbn import EmptySafeSyncBN
from .guard import ScratchProblem, ScratchTrainingError, find_scratch_problems
from .guard_hook import ScratchGuardHook
from .init import (ScratchInitError, format_weight_stats, he_init,
                   kaiming_fan_out_std, weight_stats)
from .init_hook import ScratchInitHook
from .norm import convert_to_scratch
from .norm_cfg import scratch_optim_paramwise_cfg
from .schedule import SCHEDULE_CONFIG_KEYS, he_schedule
from .schedule_fragments import he_schedule_fragment
from .syncbn_guard_hook import (SingleProcessSyncBNError,
                                SingleProcessSyncBNWarning, SyncBNGuardHook,
                                check_sync_bn_world_size, find_sync_bn)

__all__ = [
    'SCHEDULE_CONFIG_KEYS', 'he_schedule', 'he_schedule_fragment',
    'ScratchProblem', 'ScratchTrainingError', 'find_scratch_problems',
    'ScratchGuardHook', 'ScratchInitError', 'format_weight_stats', 'he_init',
    'kaiming_fan_out_std', 'weight_stats', 'ScratchInitHook',
    'convert_to_scratch', 'scratch_optim_paramwise_cfg', 'EmptySafeSyncBN',
    'SingleProcessSyncBNError', 'SingleProcessSyncBNWarning',
    'SyncBNGuardHook', 'check_sync_bn_world_size', 'find_sync_bn'
]
