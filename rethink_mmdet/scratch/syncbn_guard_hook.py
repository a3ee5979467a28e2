# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The one SyncBN guard: ``SyncBNGuardHook`` refuses to *train* a config
that uses SyncBN on a single process (He et al. 2019, Sec. 3).

He et al. 2019 ("Rethinking ImageNet Pre-training", arXiv 1811.08883),
Sec. 3 ("Normalization"): training from scratch needs normalization that
works at the small per-GPU batch of detection (2 images); SyncBN does it by
computing the batch statistics over *all* GPUs (16 images). mmengine's
``Runner.wrap_model`` replaces every SyncBN by plain BN when the run is not
distributed (``revert_sync_batchnorm``), and ``torch.nn.SyncBatchNorm``
itself falls back to BN when the world size is 1: the statistics then come
from the per-GPU batch, which defeats the method.

The module holds the config scan (:func:`find_sync_bn`), the check
(:func:`check_sync_bn_world_size`), its error and warning types and the
hook. Only *training* is refused: in eval mode SyncBN uses its running
statistics, so single-GPU testing (``tools/test.py``, ``init_detector``) is
exact. ``EmptySafeSyncBN`` (:mod:`.empty_safe_syncbn`), the RoI heads' norm
layer, is a separate concern.
"""
import warnings
from typing import Any, List

from mmengine.hooks import Hook
from torch import nn

from mmdet.registry import HOOKS
from .names import type_name

__all__ = [
    'SYNC_BN_TYPES', 'SingleProcessSyncBNError', 'SingleProcessSyncBNWarning',
    'find_sync_bn', 'check_sync_bn_world_size', 'SyncBNGuardHook'
]

#: Norm-layer registry names that synchronize statistics across processes:
#: ``'SyncBN'`` (``torch.nn.SyncBatchNorm``, registered by mmcv),
#: ``'MMSyncBN'`` (``mmcv.ops.SyncBatchNorm``) and ``'EmptySafeSyncBN'``.
SYNC_BN_TYPES = frozenset({'SyncBN', 'MMSyncBN', 'EmptySafeSyncBN'})
#: The ``custom_hooks`` entry that allows single-process SyncBN training.
ALLOW_KEY = ("custom_hooks=[dict(type='SyncBNGuardHook', "
             'allow_single_process=True)]')

_WHY = ('a single process has no other processes to synchronize with, so '
        'SyncBN computes its statistics over the per-GPU batch only '
        '(mmengine\'s Runner even reverts SyncBN to BN when not '
        'distributed), which defeats SyncBN training from scratch (He et '
        'al. 2019, Sec. 3: statistics over all GPUs\' images).')
_FIX = ('Launch with more than one process, e.g. `tools/dist_train.sh '
        'CONFIG 8`, or use GroupNorm (a gn-all config, or '
        'tools/misc/render_scratch_model.py --norm GN), which does not '
        'depend on the batch size.')


class SingleProcessSyncBNError(RuntimeError):
    """SyncBN training was started with a single process."""


class SingleProcessSyncBNWarning(UserWarning):
    """SyncBN training runs with a single process because it was allowed."""


def _is_sync_bn(type_: Any) -> bool:
    """Whether a norm ``type`` (registry name or class) is a SyncBN."""
    if isinstance(type_, type):
        if issubclass(type_, nn.SyncBatchNorm):
            return True
        return type_.__module__.startswith('mmcv.ops') and \
            type_.__name__ == 'SyncBatchNorm'
    return type_name(type_) in SYNC_BN_TYPES


def find_sync_bn(cfg: Any, path: str = 'model') -> List[str]:
    """Config paths of every SyncBN in a (model) config, recursively: a
    dict counts when its ``type`` is one of :data:`SYNC_BN_TYPES` (or a
    SyncBN class).

    Args:
        cfg (Any): A config value: dict, list/tuple or a leaf.
        path (str): The path of ``cfg`` used in the result. Defaults to
            ``'model'``.

    Returns:
        list[str]: e.g. ``['model.backbone.norm_cfg',
        'model.roi_head.bbox_head[1].norm_cfg']``.
    """
    found = []
    if isinstance(cfg, dict):
        if _is_sync_bn(cfg.get('type')):
            found.append(path)
        for key, value in cfg.items():
            if key != 'type':
                found += find_sync_bn(value, f'{path}.{key}')
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found += find_sync_bn(value, f'{path}[{i}]')
    return found


def check_sync_bn_world_size(where: List[str],
                             world_size: int,
                             allow_single_process: bool = False,
                             allow_key: str = ALLOW_KEY) -> bool:
    """Refuse SyncBN training with fewer than 2 processes.

    Args:
        where (list[str]): Where SyncBN is configured (config paths); the
            check passes when empty.
        world_size (int): Number of training processes.
        allow_single_process (bool): Warn instead of raising. Defaults to
            False.
        allow_key (str): The config entry that allows it, named in the
            messages. Defaults to :data:`ALLOW_KEY`.

    Returns:
        bool: True when it warned (SyncBN on one process, allowed), False
        when there was nothing to report.

    Raises:
        SingleProcessSyncBNError: SyncBN configured, ``world_size < 2`` and
            not allowed.
    """
    if not where or world_size > 1:
        return False
    shown = ', '.join(
        where[:3]) + (f' (+{len(where) - 3} more)' if len(where) > 3 else '')
    if not allow_single_process:
        raise SingleProcessSyncBNError(
            f'SyncBN configured at {shown}, but training runs with '
            f'world_size={world_size}: {_WHY} {_FIX} To train with per-GPU '
            f'BN statistics knowingly, set {allow_key}.')
    warnings.warn(
        f'SyncBN configured at {shown} runs with world_size={world_size} '
        f'because of {allow_key}: {_WHY}', SingleProcessSyncBNWarning)
    return True


@HOOKS.register_module()
class SyncBNGuardHook(Hook):
    """Refuse to train a config that uses SyncBN with a single process.

    Runner event: ``before_train`` (called by the train loop before the first
    iteration; not by ``Runner.val``/``Runner.test``, for which one process
    is correct because SyncBN uses its running statistics in eval mode —
    ``before_run`` would fire for those too). It reads ``runner.cfg``, not
    the modules: by then mmengine has already reverted SyncBN to BN when not
    distributed. What it guards (see :func:`find_sync_bn`): every dict of
    ``runner.cfg.model`` whose ``type`` is in :data:`SYNC_BN_TYPES` (a
    self-training student's ``model.detector`` too), and
    ``runner.cfg.sync_bn`` (mmengine converts BN to SyncBN in distributed
    runs). It checks once per run (so an allowed run warns once). A runner
    built without a config is not inspected. Every SyncBN config of the
    package lists it (the He et al. and Zoph et al. runtimes).

    Example::

        custom_hooks = [dict(type='SyncBNGuardHook')]

    Args:
        allow_single_process (bool): Warn once instead of raising
            :class:`SingleProcessSyncBNError`. Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_single_process: bool = False) -> None:
        self.allow_single_process = allow_single_process

    def before_train(self, runner) -> None:
        """Check the SyncBN config against ``runner.world_size``."""
        cfg = runner.cfg
        if not cfg.get('model'):
            runner.logger.warning(
                'SyncBNGuardHook: runner.cfg has no model (a Runner built '
                'without a config), so it cannot check for SyncBN, which '
                'mmengine has already reverted to BN if not distributed. '
                'Build the runner with Runner.from_cfg to be guarded.')
        where = find_sync_bn(cfg.get('model'), 'model')
        if cfg.get('sync_bn'):
            where.append(f'sync_bn={cfg.get("sync_bn")!r}')
        check_sync_bn_world_size(where, runner.world_size,
                                 self.allow_single_process)
