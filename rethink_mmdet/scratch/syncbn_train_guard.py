# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The forward pre-hook ``ScratchNormDetector(norm='SyncBN')`` installs on
the backbone of the detector it builds: SyncBN *training* on one process is
refused at the first training forward (He et al. 2019, Sec. 3; see
:mod:`.syncbn_check`).
It is not in the config; :func:`find_sync_bn` and docs/components.md name
it."""
from mmengine import dist
from torch import nn

from .syncbn_check import check_sync_bn_world_size

__all__ = ['SyncBNTrainGuard', 'install_syncbn_guard']


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
    """Register a :class:`SyncBNTrainGuard` as forward pre-hook of the
    detector's backbone (of ``model`` itself when it has none): every
    training forward runs the backbone, also the self-training student's,
    which calls ``extract_feat`` rather than the detector's ``forward``.

    Args:
        model (nn.Module): The detector.
        where (str): Where SyncBN is configured. Defaults to
            ``'model.norm'``.
        allow_single_process (bool): Warn once instead of raising. Defaults
            to False.

    Returns:
        nn.Module: ``model`` itself (its ``state_dict`` is unchanged).
    """
    target = getattr(model, 'backbone', None)
    if not isinstance(target, nn.Module):
        target = model
    target.register_forward_pre_hook(
        SyncBNTrainGuard(where, allow_single_process))
    return model
