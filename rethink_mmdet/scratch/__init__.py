"""He et al. 2019 (training from scratch): the schedule rule."""
from .schedule import (DETECTRON_1X_STEPS, HE_BASE_BATCH, HE_BASE_LR,
                       HE_ITERS_PER_X, HE_LAST_STEPS, SCHEDULE_CONFIG_KEYS,
                       he_schedule, he_schedule_fragment)

__all__ = [
    'DETECTRON_1X_STEPS', 'HE_BASE_BATCH', 'HE_BASE_LR', 'HE_ITERS_PER_X',
    'HE_LAST_STEPS', 'SCHEDULE_CONFIG_KEYS', 'he_schedule',
    'he_schedule_fragment'
]
