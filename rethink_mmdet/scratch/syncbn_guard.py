# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Guards for SyncBN, the second normalization of He et al. 2019.

He et al. 2019 ("Rethinking ImageNet Pre-training", arXiv 1811.08883),
Sec. 3 ("Normalization"): training from scratch needs normalization that
works at the small per-GPU batch of detection (2 images); SyncBN does it by
computing the batch statistics over *all* GPUs (16 images). Two ways to lose
that silently are refused or repaired here:

- **A single process.** mmengine's ``Runner.wrap_model`` replaces every
  SyncBN by plain BN when the run is not distributed
  (``revert_sync_batchnorm``), and ``torch.nn.SyncBatchNorm`` itself falls
  back to BN when the world size is 1: the statistics then come from the
  per-GPU batch, which defeats the method. :class:`SyncBNGuardHook` (for any
  config that sets SyncBN itself) and :class:`SyncBNTrainGuard` (installed on
  the detector by ``ScratchNormDetector(norm='SyncBN')``) raise
  :class:`SingleProcessSyncBNError` unless single-process SyncBN is allowed
  explicitly, in which case they warn once
  (:class:`SingleProcessSyncBNWarning`). Only *training* is refused: in eval
  mode SyncBN uses its running statistics, so single-GPU testing is exact.
- **Empty RoI batches.** The RoI heads of He et al. (4conv1fc box head, mask
  head) carry SyncBN, and a process can get 0 RoIs (e.g. no positive RoI for
  the mask head). ``torch.nn.SyncBatchNorm`` (torch >= 1.12) lets a process
  with an empty input join the collectives with a zero count (its stats are
  masked out), but the case where *every* process is empty is not handled
  explicitly: ``batch_norm_gather_stats_with_counts`` then reduces zero
  rows on the GPU and updates the running statistics from them (zero-count
  support in those CUDA kernels is pytorch#78656). That could not be run
  here (no GPU), so :class:`EmptySafeSyncBN` does not rely on it: it
  all-reduces the total count first and, when it is zero, returns an empty
  output without touching the running statistics, on every process alike,
  so no process waits on a collective the others skip. (mmcv's
  ``'MMSyncBN'`` handles empty inputs too, with ``stats_mode='N'``, but it
  needs an initialized process group even to be constructed and mmcv's CUDA
  ops to train, so the converter does not use it.)
"""
import warnings
from typing import Any, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import nn

from mmdet.registry import HOOKS

__all__ = [
    'SYNC_BN_TYPES', 'SCRATCH_NORM_DETECTOR', 'SingleProcessSyncBNError',
    'SingleProcessSyncBNWarning', 'EmptySafeSyncBN', 'find_sync_bn',
    'check_sync_bn_world_size', 'SyncBNTrainGuard', 'install_syncbn_guard',
    'SyncBNGuardHook'
]

#: Norm-layer registry names that synchronize statistics across processes:
#: ``'SyncBN'`` (``torch.nn.SyncBatchNorm``, registered by mmcv),
#: ``'MMSyncBN'`` (``mmcv.ops.SyncBatchNorm``) and ``'EmptySafeSyncBN'``.
SYNC_BN_TYPES = frozenset({'SyncBN', 'MMSyncBN', 'EmptySafeSyncBN'})
#: Registry name of the builder in :mod:`rethink_mmdet.scratch.norm`; its
#: config subtree is guarded by :class:`SyncBNTrainGuard`, not by the hook.
SCRATCH_NORM_DETECTOR = 'ScratchNormDetector'

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


@MMENGINE_MODELS.register_module(name='EmptySafeSyncBN')
class EmptySafeSyncBN(nn.SyncBatchNorm):
    """``torch.nn.SyncBatchNorm`` that is safe when every process has an
    empty input (0 RoIs on all GPUs).

    Registered as ``'EmptySafeSyncBN'`` in mmengine's root ``MODELS``
    registry, where mmcv's ``build_norm_layer`` finds norm layers, so
    ``norm_cfg=dict(type='EmptySafeSyncBN')`` works in any mmdet module. It
    is a ``SyncBatchNorm``: ``infer_abbr`` names it ``bn`` (checkpoints are
    those of ``'SyncBN'``), mmengine's ``revert_sync_batchnorm`` turns it into
    BN, and ``norm_decay_mult`` applies to it.

    In distributed training mode it first all-reduces the number of samples
    (one scalar per call, and one device-to-host sync). If the total is 0 the
    output is the empty input scaled by the affine parameters, so that they
    get zero gradients and DDP sees them used; the running statistics are
    left as they are. Otherwise, and whenever it does not synchronize (eval
    mode, one process), it is exactly ``torch.nn.SyncBatchNorm``; on one
    process that is ``F.batch_norm``, which returns an empty output for an
    empty input and leaves the running statistics unchanged (tested on
    CPU).

    Args and defaults are those of ``torch.nn.SyncBatchNorm``.
    """

    def _synchronizes(self) -> bool:
        """Whether :meth:`forward` would synchronize statistics (mirrors the
        decision in ``torch.nn.SyncBatchNorm.forward``)."""
        bn_training = self.training or (self.running_mean is None
                                        and self.running_var is None)
        if not (bn_training and self.training and torch_dist.is_available()
                and torch_dist.is_initialized()):
            return False
        group = self.process_group or torch_dist.group.WORLD
        return torch_dist.get_world_size(group) > 1

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Normalize ``input``; see the class docstring for empty inputs."""
        if self._synchronizes():
            count = torch.tensor([float(input.shape[0])], device=input.device)
            torch_dist.all_reduce(count,
                                  group=self.process_group
                                  or torch_dist.group.WORLD)
            if count.item() == 0:
                return self._empty_output(input)
        return super().forward(input)

    def _empty_output(self, input: torch.Tensor) -> torch.Tensor:
        """Empty output connected to the affine parameters (zero grads)."""
        if not self.affine:
            return input.clone()
        shape = (1, -1) + (1, ) * (input.dim() - 2)
        return input * self.weight.view(shape) + self.bias.view(shape)


def _type_name(type_: Any) -> Optional[str]:
    """Registry name of a ``type`` value without its scope (``mmdet.X``)."""
    if isinstance(type_, str):
        return type_.rsplit('.', 1)[-1]
    if isinstance(type_, type):
        return type_.__name__
    return None


def _is_sync_bn(type_: Any) -> bool:
    """Whether a norm ``type`` (registry name or class) is a SyncBN."""
    if isinstance(type_, type):
        if issubclass(type_, nn.SyncBatchNorm):
            return True
        return type_.__module__.startswith('mmcv.ops') and \
            type_.__name__ == 'SyncBatchNorm'
    return _type_name(type_) in SYNC_BN_TYPES


def find_sync_bn(cfg: Any, path: str = 'model') -> List[str]:
    """Config paths of every SyncBN in a (model) config, recursively.

    A dict counts when its ``type`` is one of :data:`SYNC_BN_TYPES` (or a
    SyncBN class). A ``ScratchNormDetector`` dict counts once, as
    ``'<path>.norm'``, when its ``norm`` is ``'SyncBN'`` and its
    ``allow_single_process`` is not True; its subtree is not searched (the
    builder guards it itself, see :class:`SyncBNTrainGuard`).

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
        if _type_name(cfg.get('type')) == SCRATCH_NORM_DETECTOR:
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


class SyncBNTrainGuard:
    """Forward pre-hook that refuses SyncBN *training* with one process.

    Installed on a detector by :func:`install_syncbn_guard` (the
    ``ScratchNormDetector`` builder does it for ``norm='SyncBN'``). It runs at
    the first forward in training mode, when ``mmengine.dist`` tells the true
    world size, and then stays silent; forwards in eval mode (testing,
    inference on one GPU, which is exact with SyncBN's running statistics)
    are never refused. A picklable object, so that ``copy.deepcopy`` of the
    detector (e.g. by ``EMAHook``) keeps it.

    Args:
        where (str): Where SyncBN is configured, for the message. Defaults
            to ``'model.norm'``.
        allow_single_process (bool): Warn once instead of raising. Defaults
            to False.
    """

    def __init__(self,
                 where: str = 'model.norm',
                 allow_single_process: bool = False) -> None:
        self.where = where
        self.allow_single_process = allow_single_process
        self.checked = False

    def __call__(self, module: nn.Module, args: tuple) -> None:
        if self.checked or not module.training:
            return
        check_sync_bn_world_size([self.where], dist.get_world_size(),
                                 self.allow_single_process,
                                 'model.allow_single_process')
        self.checked = True


def install_syncbn_guard(model: nn.Module,
                         where: str = 'model.norm',
                         allow_single_process: bool = False) -> nn.Module:
    """Register a :class:`SyncBNTrainGuard` as forward pre-hook of ``model``.

    Args:
        model (nn.Module): The detector.
        where (str): Where SyncBN is configured. Defaults to
            ``'model.norm'``.
        allow_single_process (bool): Warn once instead of raising. Defaults
            to False.

    Returns:
        nn.Module: ``model`` itself (its ``state_dict`` is unchanged).
    """
    model.register_forward_pre_hook(
        SyncBNTrainGuard(where, allow_single_process))
    return model


@HOOKS.register_module()
class SyncBNGuardHook(Hook):
    """Refuse to train a config that uses SyncBN with a single process.

    Runner event: ``before_train`` (called by the train loop before the first
    iteration; not by ``Runner.val``/``Runner.test``, for which one process
    is correct because SyncBN uses its running statistics in eval mode —
    ``before_run`` would fire for those too). It reads ``runner.cfg``, not
    the modules: by then mmengine has already reverted SyncBN to BN when not
    distributed. SyncBN counts when a dict anywhere in ``runner.cfg.model``
    has a ``type`` in :data:`SYNC_BN_TYPES` (see :func:`find_sync_bn`), or
    when ``runner.cfg.sync_bn`` is set (mmengine converts BN to SyncBN in
    distributed runs). A runner built without a config is not inspected.

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
        where = find_sync_bn(cfg.get('model'), 'model')
        if cfg.get('sync_bn'):
            where.append(f'sync_bn={cfg.get("sync_bn")!r}')
        check_sync_bn_world_size(
            where, runner.world_size, self.allow_single_process,
            "custom_hooks=[dict(type='SyncBNGuardHook', "
            'allow_single_process=True)]')
