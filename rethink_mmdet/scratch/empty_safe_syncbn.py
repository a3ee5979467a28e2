# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``EmptySafeSyncBN``: SyncBN for RoI heads that may see 0 RoIs on every
GPU (He et al. 2019, Sec. 3-4: SyncBN in the 4conv1fc box head and the
mask head).

``torch.nn.SyncBatchNorm`` (torch >= 1.12) lets a process with an empty
input join the collectives with a zero count (its stats are masked out), but
the case where *every* process is empty is not handled explicitly:
``batch_norm_gather_stats_with_counts`` then reduces zero rows on the GPU
and updates the running statistics from them (zero-count support in those
CUDA kernels is pytorch#78656). That could not be run here (no GPU), so
:class:`EmptySafeSyncBN` does not rely on it: it all-reduces the total count
first and, when it is zero, returns an empty output without touching the
running statistics, on every process alike, so no process waits on a
collective the others skip. (mmcv's ``'MMSyncBN'`` handles empty inputs too,
with ``stats_mode='N'``, but it needs an initialized process group even to
be constructed and mmcv's CUDA ops to train, so the converter does not use
it.)

Registered in **mmengine's** root ``MODELS`` registry (not mmdet's): that is
where mmcv's ``build_norm_layer`` looks up norm layers.
"""
import torch
import torch.distributed as torch_dist
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import nn

__all__ = ['EmptySafeSyncBN']


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
            torch_dist.all_reduce(
                count, group=self.process_group or torch_dist.group.WORLD)
            if count.item() == 0:
                return self._empty_output(input)
        return super().forward(input)

    def _empty_output(self, input: torch.Tensor) -> torch.Tensor:
        """Empty output connected to the affine parameters (zero grads)."""
        if not self.affine:
            return input.clone()
        shape = (1, -1) + (1, ) * (input.dim() - 2)
        return input * self.weight.view(shape) + self.bias.view(shape)
