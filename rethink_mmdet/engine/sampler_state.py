"""Start a train batch sampler at a saved position, without replaying it.

mmengine's ``IterBasedTrainLoop`` resumes by fetching every trained batch
again (``next(dataloader_iterator)`` ``iter`` times: decoding and
augmenting them), and its ``EpochBasedTrainLoop`` can only restart an epoch
from its first batch. The resumable loops of :mod:`.loops` instead save the
sampler *position* and start the batch sampler there directly.

The position, :class:`SamplerPosition`, is ``(epoch, batch, seed)``: the
sampler epoch (a pass over the data; always 0 for infinite samplers), the
batches trained in it and the sampler's seed. It is the same on every rank
(every rank trains the same number of batches), so the checkpoint that
rank 0 writes holds every rank's position, and each rank derives its own
sampler state from it: its index stream is a pure function of (seed,
epoch, rank, world size). :class:`ResumableBatchSampler` wraps the batch
sampler the config asks for and, given a position, yields exactly the
batches the uninterrupted run would yield next:

===============================  =========================================
batch sampler / sampler          how the position is restored (cost)
===============================  =========================================
``state_dict()`` /               ``load_state_dict`` with ``epoch``,
``load_state_dict()`` (e.g.      ``seed``, ``offset`` = batches (constant)
``MixedSourceBatchSampler``)
torch ``BatchSampler`` over      this rank's stream of mmengine's
``InfiniteSampler``              permutations from index ``batch * bs``
                                 (one ``randperm`` per pass before it)
torch ``BatchSampler`` over a    the epoch's indices from ``batch * bs``
finite sampler (``DefaultSampler``  (one listing of the epoch, no data)
...)
mmdet ``AspectRatioBatchSampler``  the orientation buckets after ``batch``
over either                      batches, computed with NumPy from the
                                 index stream and the images' width and
                                 height (no data loaded), then mmdet's
                                 grouping rule from there
anything else                    the first ``batch`` batches of indices
                                 are drawn and dropped (no data loaded;
                                 cost grows with the position: a warning)
===============================  =========================================

Only indices are computed: no image is read, no transform runs. The
grouping of mmdet's ``AspectRatioBatchSampler.__iter__`` and the stream of
mmengine's ``InfiniteSampler`` are followed exactly (tests compare every
batch with theirs), without patching either class.
"""
import itertools
import logging
from typing import Iterator, List, NamedTuple, Optional

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.logging import print_log
from torch.utils.data import BatchSampler

from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmdet.registry import DATA_SAMPLERS

__all__ = ['SamplerPosition', 'ResumableBatchSampler', 'wrap_batch_sampler']


class SamplerPosition(NamedTuple):
    """Where a train batch sampler stands: ``batch`` batches of sampler
    epoch ``epoch`` (a pass over the data) are trained; ``seed`` is the
    sampler's seed (None: keep the built sampler's)."""
    epoch: int
    batch: int
    seed: Optional[int] = None


def wrap_batch_sampler(dataloader_cfg: dict) -> dict:
    """A copy of a ``train_dataloader`` config whose batch sampler is a
    :class:`ResumableBatchSampler` around the one it names.

    ``batch_sampler=None`` (torch's ``BatchSampler``) and ``drop_last`` are
    kept: ``drop_last`` moves into the wrapper, since torch's ``DataLoader``
    refuses it beside a ``batch_sampler``.

    Args:
        dataloader_cfg (dict): The ``train_dataloader`` config.

    Returns:
        dict: The config to build the dataloader from.
    """
    cfg = dict(dataloader_cfg)
    inner = cfg.get('batch_sampler')
    if isinstance(inner,
                  dict) and inner.get('type') in (ResumableBatchSampler,
                                                  'ResumableBatchSampler'):
        return cfg
    cfg['batch_sampler'] = dict(
        type=ResumableBatchSampler,
        batch_sampler=inner,
        drop_last=cfg.pop('drop_last', False))
    return cfg


def _infinite_chunks(sampler: InfiniteSampler,
                     start: int) -> Iterator[np.ndarray]:
    """This rank's stream of ``InfiniteSampler`` from its ``start``-th index,
    one array per permutation: mmengine's ``_infinite_indices`` (seeded
    ``torch.randperm`` after ``torch.randperm``) sliced by
    ``_indices_of_rank`` (``islice(stream, rank, None, world_size)``)."""
    size, step = sampler.size, sampler.world_size
    passes, first = divmod(sampler.rank + start * step, size)
    gen = torch.Generator()
    gen.manual_seed(sampler.seed)

    def permutation():
        if sampler.shuffle:
            return torch.randperm(size, generator=gen).numpy()
        return np.arange(size)

    for _ in range(passes if sampler.shuffle else 0):
        torch.randperm(size, generator=gen)
    while True:
        yield permutation()[first::step]
        first = (first - size) % step


def _index_stream(sampler, start: int) -> Iterator[int]:
    """This rank's indices of ``sampler`` (its current epoch) from the
    ``start``-th on."""
    if isinstance(sampler, InfiniteSampler):
        return (int(i) for chunk in _infinite_chunks(sampler, start)
                for i in chunk)
    # a finite sampler lists one epoch: bounded by the epoch length
    return itertools.islice(iter(sampler), start, None)


def _index_prefix(sampler, length: Optional[int]) -> np.ndarray:
    """The first ``length`` indices of this rank (all of the epoch for a
    finite sampler, ``length=None``)."""
    if not isinstance(sampler, InfiniteSampler):
        return np.fromiter(iter(sampler), np.int64)
    chunks, total = [], 0
    for chunk in _infinite_chunks(sampler, 0):
        chunks.append(chunk)
        total += len(chunk)
        if total >= length:
            break
    return np.concatenate(chunks)[:length].astype(np.int64)


class _Orientations:
    """mmdet's ``AspectRatioBatchSampler`` bucket of each index (0 when
    ``width < height``, else 1), read once per index from the dataset."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self._known = np.full(len(dataset), -1, np.int8)

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        for idx in np.unique(indices[self._known[indices] < 0]).tolist():
            self.one(idx)
        return self._known[indices]

    def one(self, idx: int) -> int:
        """The bucket of one index."""
        if self._known[idx] < 0:
            info = self.dataset.get_data_info(idx)
            self._known[idx] = 0 if info['width'] < info['height'] else 1
        return int(self._known[idx])


def _aspect_ratio_state(stream: np.ndarray, groups: np.ndarray, size: int,
                        batches: int):
    """After ``batches`` batches of the bucketing rule over ``stream``:
    ``(consumed, buckets, leftover_batches)``.

    A batch is emitted when an index fills its orientation bucket to
    ``size``; the emissions are the positions where an index's running
    count within its own group is a multiple of ``size``. Past the last
    emission of a finite epoch, ``leftover_batches`` counts the batches of
    mmdet's end-of-epoch flush already trained (else 0).
    """
    emit = np.zeros(len(stream), bool)
    counts = {}
    for g in (0, 1):
        hit = groups == g
        count = np.cumsum(hit)
        counts[g] = count
        emit |= hit & (count % size == 0)
    positions = np.flatnonzero(emit)
    if batches <= len(positions):
        consumed = int(positions[batches - 1]) + 1 if batches else 0
        leftover = 0
    else:  # in the end-of-epoch flush
        consumed, leftover = len(stream), batches - len(positions)
    buckets = []
    for g in (0, 1):
        held = int(counts[g][consumed - 1]) % size if consumed else 0
        mine = stream[:consumed][groups[:consumed] == g]
        buckets.append(mine[len(mine) - held:].tolist() if held else [])
    return consumed, buckets, leftover


@DATA_SAMPLERS.register_module()
class ResumableBatchSampler(BatchSampler):
    """The config's train batch sampler, able to start at a saved position.

    Without a position it yields exactly the wrapped batch sampler's batches
    (it *is* that sampler). After :meth:`start_at`, its next iteration
    starts at that position, computed from indices only (see the module
    docstring); later iterations (the next epochs) are the wrapped
    sampler's again. Built by the runner from the config that
    :func:`wrap_batch_sampler` returns.

    Args:
        sampler (Sampler): The sampler, built by the runner.
        batch_size (int): Batch size, given by the runner.
        batch_sampler (dict, optional): The wrapped batch sampler's config.
            Defaults to None: torch's ``BatchSampler``.
        drop_last (bool): ``drop_last`` of torch's ``BatchSampler``.
            Defaults to False.
    """

    def __init__(self,
                 sampler,
                 batch_size: int,
                 batch_sampler: Optional[dict] = None,
                 drop_last: bool = False) -> None:
        if batch_sampler is None:
            inner = BatchSampler(sampler, batch_size, drop_last)
        elif isinstance(batch_sampler, dict):
            inner = DATA_SAMPLERS.build(
                batch_sampler,
                default_args=dict(sampler=sampler, batch_size=batch_size))
        else:
            inner = batch_sampler
        self.batch_sampler = inner
        self._pending: Optional[SamplerPosition] = None
        self._orientations: Optional[_Orientations] = None
        self._warned = False

    # what DataLoader, DistSamplerSeedHook and users read --------------------
    @property
    def sampler(self):
        """The wrapped batch sampler's sampler (``set_epoch``, ``dataset``,
        ``seed`` are read there)."""
        return getattr(self.batch_sampler, 'sampler', None)

    @property
    def batch_size(self) -> int:
        return self.batch_sampler.batch_size

    @property
    def drop_last(self) -> bool:
        return getattr(self.batch_sampler, 'drop_last', False)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def set_epoch(self, epoch: int) -> None:
        """Set the sampler epoch (as mmengine does, on the sampler)."""
        if hasattr(self.batch_sampler, 'set_epoch'):
            self.batch_sampler.set_epoch(epoch)
        elif hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)

    # positions --------------------------------------------------------------
    @property
    def seed(self) -> Optional[int]:
        """The seed the batches are drawn with."""
        if self._is_stateful():
            return self.batch_sampler.state_dict().get('seed')
        return getattr(self.sampler, 'seed', None)

    def start_at(self, position: SamplerPosition) -> None:
        """Make the next iteration start at ``position``.

        Args:
            position (SamplerPosition): The epoch, the batches of it
                already trained and the seed.
        """
        self._pending = SamplerPosition(*position)

    def _is_stateful(self) -> bool:
        return callable(getattr(self.batch_sampler, 'state_dict', None)) \
            and callable(getattr(self.batch_sampler, 'load_state_dict', None))

    def __iter__(self) -> Iterator[List[int]]:
        position, self._pending = self._pending, None
        if position is None:
            return iter(self.batch_sampler)
        if self._is_stateful():
            state = dict(self.batch_sampler.state_dict())
            state.update(epoch=position.epoch, offset=position.batch)
            if position.seed is not None:
                state['seed'] = position.seed
            self.batch_sampler.load_state_dict(state)
            return iter(self.batch_sampler)
        sampler = self.sampler
        if position.seed is not None and hasattr(sampler, 'seed'):
            sampler.seed = position.seed
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(position.epoch)
        if type(self.batch_sampler) is AspectRatioBatchSampler:
            return self._aspect_ratio_from(position.batch)
        if type(self.batch_sampler) is BatchSampler:
            return self._plain_from(position.batch)
        return self._replay_indices(position.batch)

    def _plain_from(self, batch: int) -> Iterator[List[int]]:
        size, drop_last = self.batch_size, self.drop_last
        stream = _index_stream(self.sampler, batch * size)
        while True:
            chunk = list(itertools.islice(stream, size))
            if not chunk or (drop_last and len(chunk) < size):
                return
            yield chunk

    def _aspect_ratio_from(self, batch: int) -> Iterator[List[int]]:
        sampler, size = self.sampler, self.batch_size
        infinite = isinstance(sampler, InfiniteSampler)
        if self._orientations is None:
            self._orientations = _Orientations(sampler.dataset)
        # enough indices for `batch` batches: each bucket holds < size
        prefix = _index_prefix(sampler, (batch + 2) * size)
        consumed, buckets, leftover = _aspect_ratio_state(
            prefix, self._orientations(prefix), size, batch)
        rest = _index_stream(sampler, consumed) if infinite else iter(
            prefix[consumed:].tolist())
        # from here on, the rule of mmdet's AspectRatioBatchSampler.__iter__
        for idx in rest:
            bucket = buckets[self._orientations.one(idx)]
            bucket.append(idx)
            if len(bucket) == size:
                yield bucket[:]
                del bucket[:]
        left = buckets[0] + buckets[1]
        chunks = [left[i:i + size] for i in range(0, len(left), size)]
        if chunks and self.drop_last and len(chunks[-1]) < size:
            chunks.pop()
        yield from chunks[leftover:]

    def _replay_indices(self, batch: int) -> Iterator[List[int]]:
        if batch and not self._warned:
            self._warned = True
            print_log(
                f'ResumableBatchSampler: no direct position restore for '
                f'{type(self.batch_sampler).__name__} over '
                f'{type(self.sampler).__name__}: drawing and dropping '
                f'{batch} batches of indices (no data is loaded, but the '
                'time grows with the position). Give the batch sampler '
                'state_dict()/load_state_dict() with epoch, seed and offset '
                '(batches) to resume in constant time.',
                logger='current',
                level=logging.WARNING)
        return itertools.islice(iter(self.batch_sampler), batch, None)
