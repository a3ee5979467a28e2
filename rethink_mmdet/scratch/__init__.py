"""He et al. 2019 (training from scratch): the schedule rule.

The names of :mod:`.schedule` are loaded on first access (PEP 562), so that
``python -m rethink_mmdet.scratch.schedule`` does not find the module already
imported by its package (runpy's "found in sys.modules" RuntimeWarning).
"""
import importlib

_SCHEDULE_NAMES = ('DETECTRON_1X_STEPS', 'HE_BASE_BATCH', 'HE_BASE_LR',
                   'HE_ITERS_PER_X', 'HE_LAST_STEPS', 'SCHEDULE_CONFIG_KEYS',
                   'he_schedule', 'he_schedule_fragment')

__all__ = list(_SCHEDULE_NAMES)


def __getattr__(name):
    if name in _SCHEDULE_NAMES:
        module = importlib.import_module('.schedule', __name__)
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
