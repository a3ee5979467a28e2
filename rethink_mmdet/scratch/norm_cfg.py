"""The normalization of He et al. 2019 (Sec. 3: GroupNorm or SyncBN in
every part of a detector trained from scratch; Sec. 4: no weight decay on
the norm parameters, Detectron's ``WEIGHT_DECAY_GN = 0.0``) as mmdet
config values.
"""
import copy
from typing import Optional

__all__ = [
    'SCRATCH_NORMS', 'ROI_SYNC_BN', 'check_norm', 'scratch_norm_cfg',
    'scratch_optim_paramwise_cfg'
]

#: Normalizations of He et al. 2019 (Sec. 3).
SCRATCH_NORMS = ('GN', 'SyncBN')
#: Norm of the RoI heads when ``norm='SyncBN'``.
ROI_SYNC_BN = 'EmptySafeSyncBN'


def check_norm(norm: str, num_groups: int) -> None:
    if norm not in SCRATCH_NORMS:
        raise ValueError(f'norm={norm!r} is not a scratch normalization; '
                         f'use one of {SCRATCH_NORMS} (He et al. 2019, '
                         'Sec. 3).')
    if norm == 'GN' and (not isinstance(num_groups, int) or num_groups < 1):
        raise ValueError(f'num_groups={num_groups!r} must be a positive int '
                         '(He et al. 2019 use 32).')


def scratch_norm_cfg(norm: str = 'GN',
                     num_groups: int = 32,
                     roi: bool = False) -> dict:
    """The ``norm_cfg`` of He et al. 2019 for one part of the detector.

    Args:
        norm (str): ``'GN'`` or ``'SyncBN'``. Defaults to ``'GN'``.
        num_groups (int): GroupNorm groups. Defaults to 32.
        roi (bool): For a RoI head: SyncBN becomes ``'EmptySafeSyncBN'``.
            Defaults to False.

    Returns:
        dict: e.g. ``dict(type='GN', num_groups=32, requires_grad=True)``.
    """
    check_norm(norm, num_groups)
    if norm == 'GN':
        return dict(type='GN', num_groups=num_groups, requires_grad=True)
    return dict(type=ROI_SYNC_BN if roi else 'SyncBN', requires_grad=True)


def scratch_optim_paramwise_cfg(paramwise_cfg: Optional[dict] = None) -> dict:
    """``paramwise_cfg`` with no weight decay on norm parameters.

    Detectron's ``WEIGHT_DECAY_GN = 0.0`` (the setting He et al. 2019 train
    with), Detectron2's ``WEIGHT_DECAY_NORM = 0.0``, mmdet's scratch configs
    ``norm_decay_mult=0.``.

    Args:
        paramwise_cfg (dict, optional): An existing ``paramwise_cfg`` whose
            other keys are kept. Defaults to None.

    Returns:
        dict: A copy with ``norm_decay_mult=0.``.
    """
    out = dict(copy.deepcopy(paramwise_cfg) or {})
    out['norm_decay_mult'] = 0.
    return out
