"""``MixedSourceBatchSampler``: the batch sampler that hands the
dataloader's ``batch_size`` to :class:`~.sampler.MixedSourceSampler` (Zoph
et al. 2020, Sec. 3: each batch a fixed share of human and pseudo images,
so the batch is drawn whole, not image by image) and yields its batches.
"""
from typing import Iterator, List

from torch.utils.data import BatchSampler

from mmdet.registry import DATA_SAMPLERS
from .sampler import MixedSourceSampler

__all__ = ['MixedSourceBatchSampler']


@DATA_SAMPLERS.register_module()
class MixedSourceBatchSampler(BatchSampler):
    """The batch sampler of :class:`MixedSourceSampler`: gives it the
    dataloader's ``batch_size`` and yields its batches.

    ``set_epoch``, ``state_dict`` and ``load_state_dict`` are the sampler's
    (mmengine reaches ``set_epoch`` through ``batch_sampler.sampler``).

    Args:
        sampler (MixedSourceSampler): Built by the runner from
            ``train_dataloader.sampler``.
        batch_size (int): ``train_dataloader.batch_size`` (the runner
            passes it).
    """

    def __init__(self, sampler: MixedSourceSampler, batch_size: int) -> None:
        if not isinstance(sampler, MixedSourceSampler):
            raise TypeError(
                'MixedSourceBatchSampler batches a MixedSourceSampler, got '
                f"{type(sampler).__name__}: set train_dataloader.sampler="
                "dict(type='MixedSourceSampler', ...)")
        sampler.bind(batch_size)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = False

    def __iter__(self) -> Iterator[List[int]]:
        return self.sampler.iter_batches()

    def __len__(self) -> int:
        return self.sampler.num_batches

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)
