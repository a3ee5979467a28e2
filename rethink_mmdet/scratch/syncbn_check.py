# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Refusing SyncBN training on a single process (He et al. 2019, Sec. 3).

He et al. 2019 ("Rethinking ImageNet Pre-training", arXiv 1811.08883),
Sec. 3 ("Normalization"): training from scratch needs normalization that
works at the small per-GPU batch of detection (2 images); SyncBN does it by
computing the batch statistics over *all* GPUs (16 images). mmengine's
``Runner.wrap_model`` replaces every SyncBN by plain BN when the run is not
distributed (``revert_sync_batchnorm``), and ``torch.nn.SyncBatchNorm``
itself falls back to BN when the world size is 1: the statistics then come
from the per-GPU batch, which defeats the method.

This module finds SyncBN in a config (:func:`find_sync_bn`) and raises
:class:`SingleProcessSyncBNError` for it on one process
(:func:`check_sync_bn_world_size`), unless single-process SyncBN is allowed
explicitly, in which case it warns (:class:`SingleProcessSyncBNWarning`).
Two guards call it: :class:`~.syncbn_guard_hook.SyncBNGuardHook` (any
config that sets SyncBN itself, at ``before_train``) and
:class:`~.syncbn_train_guard.SyncBNTrainGuard` (the forward pre-hook that
``ScratchNormDetector(norm='SyncBN')`` installs). Only *training* is
refused: in eval mode SyncBN uses its running statistics, so single-GPU
testing is exact.
"""
import warnings
from typing import Any, List

from torch import nn

from .names import SCRATCH_NORM_DETECTOR, type_name

__all__ = [
    'SingleProcessSyncBNError', 'SingleProcessSyncBNWarning', 'find_sync_bn',
    'check_sync_bn_world_size'
]

#: Norm-layer registry names that synchronize statistics across processes:
#: ``'SyncBN'`` (``torch.nn.SyncBatchNorm``, registered by mmcv),
#: ``'MMSyncBN'`` (``mmcv.ops.SyncBatchNorm``) and ``'EmptySafeSyncBN'``.
SYNC_BN_TYPES = frozenset({'SyncBN', 'MMSyncBN', 'EmptySafeSyncBN'})

_WHY = ('a single process has no other processes to synchronize with, so '
        'SyncBN computes its statistics over the per-GPU batch only '
        '(mmengine\'s Runner even reverts SyncBN to BN when not '
        'distributed), which defeats SyncBN training from scratch (He et '
        'al. 2019, Sec. 3: statistics over all GPUs\' images).')
_FIX = ('Launch with more than one process, e.g. `tools/dist_train.sh '
        'CONFIG 8`, or use GroupNorm (norm=\'GN\'), which does not depend '
        'on the batch size.')


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
    """Config paths of every SyncBN in a (model) config, recursively.

    A dict counts when its ``type`` is one of :data:`SYNC_BN_TYPES` (or a
    SyncBN class). A ``ScratchNormDetector`` dict counts once, as
    ``'<path>.norm'``, when its ``norm`` is ``'SyncBN'`` and its
    ``allow_single_process`` is not True; its subtree is not searched (the
    builder converts it, and guards it itself with
    :class:`~.syncbn_train_guard.SyncBNTrainGuard`).

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
        if type_name(cfg.get('type')) == SCRATCH_NORM_DETECTOR:
            if cfg.get('norm') == 'SyncBN' and not cfg.get(
                    'allow_single_process', False):
                found.append(f'{path}.norm')
            return found
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
                             allow_key: str = 'allow_single_process') -> bool:
    """Refuse SyncBN training with fewer than 2 processes.

    Args:
        where (list[str]): Where SyncBN is configured (config paths); the
            check passes when empty.
        world_size (int): Number of training processes.
        allow_single_process (bool): Warn instead of raising. Defaults to
            False.
        allow_key (str): The config key that allows it, named in the error.
            Defaults to ``'allow_single_process'``.

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
            f'BN statistics knowingly, set {allow_key}=True.')
    warnings.warn(
        f'SyncBN configured at {shown} runs with world_size={world_size} '
        f'because {allow_key}=True: {_WHY}', SingleProcessSyncBNWarning)
    return True
