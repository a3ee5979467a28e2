# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``SyncBNGuardHook``: refuse to *train* a config that uses SyncBN on one
process (He et al. 2019, Sec. 3; see :mod:`.syncbn_check`)."""
from mmengine.hooks import Hook

from mmdet.registry import HOOKS
from .syncbn_check import check_sync_bn_world_size, find_sync_bn

__all__ = ['SyncBNGuardHook']


@HOOKS.register_module()
class SyncBNGuardHook(Hook):
    """Refuse to train a config that uses SyncBN with a single process.

    Runner event: ``before_train`` (called by the train loop before the first
    iteration; not by ``Runner.val``/``Runner.test``, for which one process
    is correct because SyncBN uses its running statistics in eval mode —
    ``before_run`` would fire for those too). It reads ``runner.cfg``, not
    the modules: by then mmengine has already reverted SyncBN to BN when not
    distributed. What it guards (see :func:`find_sync_bn`): every dict of
    ``runner.cfg.model`` whose ``type`` is in :data:`SYNC_BN_TYPES`, a
    ``ScratchNormDetector`` with ``norm='SyncBN'`` and no
    ``allow_single_process=True`` (which also guards itself at its first
    training forward, :class:`SyncBNTrainGuard`, so it is refused with or
    without this hook), and ``runner.cfg.sync_bn`` (mmengine converts BN to
    SyncBN in distributed runs). A runner built without a config is not
    inspected.

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
        check_sync_bn_world_size(
            where, runner.world_size, self.allow_single_process,
            "custom_hooks=[dict(type='SyncBNGuardHook', "
            'allow_single_process=True)]')
