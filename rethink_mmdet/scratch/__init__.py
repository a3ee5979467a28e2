"""He et al. 2019 (training from scratch): scratch norm conversion, the
scratch guard and He init hooks, the SyncBN guard, and the schedule rule.

The hook and norm modules are imported eagerly (registration happens on
import). The names of :mod:`.schedule` are loaded on first access (PEP 562),
so that ``python -m rethink_mmdet.scratch.schedule`` does not find the module
already imported by its package (runpy's "found in sys.modules" warning).
"""
import importlib

from .guard import ScratchProblem, ScratchTrainingError, find_scratch_problems
from .guard_hook import ScratchGuardHook
from .init import (DEFAULT_INIT_EXCLUDE, ScratchInitError, format_weight_stats,
                   he_init, kaiming_fan_out_std, weight_stats)
from .init_hook import ScratchInitHook
from .norm import (CONVFC_BBOX_HEADS, RESNET_BACKBONES, ROI_SYNC_BN,
                   SCRATCH_BBOX_HEAD, SCRATCH_NORMS, convert_to_scratch,
                   scratch_norm_cfg, scratch_norm_detector,
                   scratch_optim_paramwise_cfg)
from .syncbn_guard import (SCRATCH_NORM_DETECTOR, SYNC_BN_TYPES,
                           EmptySafeSyncBN, SingleProcessSyncBNError,
                           SingleProcessSyncBNWarning, SyncBNGuardHook,
                           SyncBNTrainGuard, check_sync_bn_world_size,
                           find_sync_bn, install_syncbn_guard)

_SCHEDULE_NAMES = ('DETECTRON_1X_STEPS', 'HE_BASE_BATCH', 'HE_BASE_LR',
                   'HE_ITERS_PER_X', 'HE_LAST_STEPS', 'SCHEDULE_CONFIG_KEYS',
                   'he_schedule', 'he_schedule_fragment')

__all__ = list(_SCHEDULE_NAMES) + [
    'ScratchProblem', 'ScratchTrainingError', 'find_scratch_problems',
    'ScratchGuardHook', 'DEFAULT_INIT_EXCLUDE', 'ScratchInitError',
    'format_weight_stats', 'he_init', 'kaiming_fan_out_std', 'weight_stats',
    'ScratchInitHook', 'CONVFC_BBOX_HEADS', 'RESNET_BACKBONES', 'ROI_SYNC_BN',
    'SCRATCH_BBOX_HEAD', 'SCRATCH_NORMS', 'convert_to_scratch',
    'scratch_norm_cfg', 'scratch_norm_detector',
    'scratch_optim_paramwise_cfg', 'SCRATCH_NORM_DETECTOR', 'SYNC_BN_TYPES',
    'EmptySafeSyncBN', 'SingleProcessSyncBNError',
    'SingleProcessSyncBNWarning', 'SyncBNGuardHook', 'SyncBNTrainGuard',
    'check_sync_bn_world_size', 'find_sync_bn', 'install_syncbn_guard'
]


def __getattr__(name):
    if name in _SCHEDULE_NAMES:
        module = importlib.import_module('.schedule', __name__)
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
