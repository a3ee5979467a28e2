"""Mixed human/pseudo batches: a fixed share of every batch from each source.

Zoph et al. 2020, Sec. 3: the student trains on human and pseudo labels
jointly, each batch half human, half pseudo images [U]. Config form (the
runner passes ``batch_size`` to the batch sampler; every other key is the
sampler's)::

    train_dataloader = dict(
        batch_size=4,
        sampler=dict(type='MixedSourceSampler', source_ratio=[1, 1],
                     epoch_source=None, aspect_ratio_grouping=True),
        batch_sampler=dict(type='MixedSourceBatchSampler'),
        dataset=dict(type='MultiSourceDataset', sources=['human', 'pseudo'],
                     datasets=[human_dataset, pseudo_dataset]))

Guarantees, per rank and per batch:

- every batch of ``batch_size`` indices holds exactly
  ``batch_size * r_s / sum(r)`` images of source ``s`` (in source order);
  a ratio that does not divide the batch size, or a zero share, is an error;
- the ranks draw disjoint shares: at each step the ranks together take
  consecutive, non-overlapping slices of every source's shuffled order;
- ``epoch_source=None``: infinite (for ``IterBasedTrainLoop``); a name: an
  epoch is one pass over that source (every image of it at least once,
  exactly once when its size divides by its images per step), other sources
  continue where the last epoch left them; ``__len__`` is the batches per
  rank of that epoch, ``set_epoch`` reseeds it;
- ``aspect_ratio_grouping``: all images of a batch share one orientation
  (``width < height`` or not, the rule of mmdet's
  ``AspectRatioBatchSampler``); the order of orientations is drawn from a
  seeded ``torch.Generator``, as are all shuffles (no global RNG);
- ``state_dict()`` holds the position (epoch, seed, offset in batches) and
  ``load_state_dict`` jumps straight to it: no batch is replayed, the
  resumed sequence is the uninterrupted one.

mmdet 3.3's ``MultiSourceSampler`` is infinite only (an epoch never ends,
mmdetection#10696, #9706), truncates the per-source counts silently (the
first source takes the remainder); ``GroupMultiSourceSampler`` hard-codes two
sources and draws groups from the global ``np.random``; neither saves its
position.
"""
import logging
import math
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from torch.utils.data import Sampler

from mmdet.registry import DATA_SAMPLERS
from .source_streams import (LANDSCAPE, PORTRAIT, Stream, image_orientations,
                             permutation, positive_int)

# what a saved position must agree on to continue the same sequence
_SAME_RUN_KEYS = ('sources', 'sizes', 'source_ratio', 'epoch_source',
                  'aspect_ratio_grouping', 'shuffle', 'world_size')


@DATA_SAMPLERS.register_module()
class MixedSourceSampler(Sampler):
    """Indices of a :class:`MultiSourceDataset` in batches with a fixed
    share of each source (see the module docstring for the guarantees).

    Iterated by :class:`MixedSourceBatchSampler`, which gives it the batch
    size; iterating it with any other batch sampler is an error, since
    regrouping its indices would break the per-batch shares.

    Args:
        dataset (MultiSourceDataset): The sources (built by the runner).
        source_ratio (Sequence[int] | dict, optional): Share of every batch
            per sub-dataset, in order (or ``{source name: share}``), as a
            ratio (``[1, 3]``) or as images per batch (``[2, 6]``). Defaults
            to None: equal shares (1 human : 1 pseudo).
        epoch_source (str, optional): Source name whose one pass is an
            epoch (``EpochBasedTrainLoop``). Defaults to None: infinite
            (``IterBasedTrainLoop``); ``__len__`` is then nominal (one pass
            over the first source) and ``set_epoch`` has no effect.
        aspect_ratio_grouping (bool): Make every batch one orientation.
            Defaults to True.
        shuffle (bool): Shuffle each source. Defaults to True.
        seed (int, optional): Seed of all draws; the runner passes its own.
            Defaults to None (a random seed, the same on all ranks).
        rank (int, optional): This process' rank. Defaults to None (from
            ``torch.distributed``).
        world_size (int, optional): Number of ranks. Defaults to None
            (from ``torch.distributed``).
    """

    def __init__(self,
                 dataset,
                 source_ratio: Union[Sequence[int], Dict[str, int],
                                     None] = None,
                 epoch_source: Optional[str] = None,
                 aspect_ratio_grouping: bool = True,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        sources = getattr(dataset, 'sources', None)
        if sources is None or not hasattr(dataset, 'source_sizes'):
            raise TypeError(
                f'MixedSourceSampler needs a MultiSourceDataset (named '
                f'sources), got {type(dataset).__name__}: set '
                "train_dataloader.dataset=dict(type='MultiSourceDataset', "
                'sources=[...], datasets=[...])')
        self.dataset = dataset
        self.sources = list(sources)
        self.sizes = list(dataset.source_sizes)
        empty = [n for n, k in zip(self.sources, self.sizes) if k == 0]
        if empty:
            raise ValueError(
                f'MixedSourceSampler: sources {empty} have no images (after '
                'filtering); every batch needs images of every source')
        self.source_ratio = self._parse_ratio(source_ratio)
        self.epoch_source = epoch_source
        self._pace = 0
        if epoch_source is not None:
            hits = [i for i, n in enumerate(self.sources) if n == epoch_source]
            if len(hits) != 1:
                raise ValueError(
                    f'MixedSourceSampler: epoch_source={epoch_source!r} must '
                    f'name exactly one of the sources {self.sources}')
            self._pace = hits[0]
        self.aspect_ratio_grouping = bool(aspect_ratio_grouping)
        self.shuffle = bool(shuffle)
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'MixedSourceSampler: rank {self.rank} outside '
                             f'world_size {self.world_size}')
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self.offset = 0  # batches handed out in this epoch (or in total)
        self.starts = [0] + [int(n) for n in np.cumsum(self.sizes)[:-1]]
        self._group_items = self._split_groups()
        self.batch_size = None
        self._expected_batch_size = None

    def _parse_ratio(self, ratio) -> List[int]:
        if ratio is None:
            return [1] * len(self.sources)
        if isinstance(ratio, dict):
            if sorted(ratio) != sorted(self.sources) or \
                    len(set(self.sources)) != len(self.sources):
                raise ValueError(
                    f'MixedSourceSampler: source_ratio keys {sorted(ratio)} '
                    f'must be the (distinct) source names {self.sources}; '
                    'with repeated names give a list, one share per dataset')
            ratio = [ratio[name] for name in self.sources]
        ratio = list(ratio)
        if len(ratio) != len(self.sources):
            raise ValueError(
                f'MixedSourceSampler: source_ratio {ratio} has '
                f'{len(ratio)} shares for the {len(self.sources)} sources '
                f'{self.sources}')
        for name, r in zip(self.sources, ratio):
            if not positive_int(r):
                raise ValueError(
                    f'MixedSourceSampler: source_ratio {ratio} gives source '
                    f'{name!r} the share {r!r}: every source needs a positive'
                    ' whole share (at least one image in every batch). Give '
                    'whole numbers, e.g. [1, 3], or drop the source from '
                    'the MultiSourceDataset.')
        return [int(r) for r in ratio]

    def _split_groups(self) -> List[Dict[int, np.ndarray]]:
        """Per source: orientation group -> its local item indexes."""
        out = []
        for dataset, size in zip(self.dataset.datasets, self.sizes):
            if not self.aspect_ratio_grouping:
                out.append({LANDSCAPE: np.arange(size)})
                continue
            orient = image_orientations(dataset)
            out.append({
                g: np.flatnonzero(orient == g)
                for g in (PORTRAIT, LANDSCAPE)
            })
        return out

    # ------------------------------------------------------------------
    # batch size (given by MixedSourceBatchSampler)
    # ------------------------------------------------------------------
    def bind(self, batch_size: int) -> None:
        """Fix the batch size: per-source counts and batches per epoch."""
        if not positive_int(batch_size):
            raise ValueError('MixedSourceSampler: batch_size must be a '
                             f'positive integer, got {batch_size!r}')
        total = sum(self.source_ratio)
        if batch_size % total:
            ratio = ':'.join(map(str, self.source_ratio))
            raise ValueError(
                f'MixedSourceSampler: batch_size {batch_size} does not '
                f'divide by the source ratio {ratio} (sum {total}): a batch '
                'cannot hold exact shares. Use a batch_size that is a '
                f'multiple of {total}, or per-batch counts summing to '
                f'{batch_size} as source_ratio.')
        if self._expected_batch_size not in (None, batch_size):
            raise ValueError(
                f'MixedSourceSampler: the loaded position was saved with '
                f'batch_size {self._expected_batch_size}, not {batch_size}')
        self.batch_size = batch_size
        self.counts = [batch_size // total * r for r in self.source_ratio]
        per_step = self.counts[self._pace] * self.world_size
        pace = self._group_items[self._pace]
        # batches of each orientation per epoch (or per nominal block)
        self.group_batches = {
            g: math.ceil(len(items) / per_step)
            for g, items in pace.items() if len(items)
        }
        self.num_batches = sum(self.group_batches.values())
        for s, groups in enumerate(self._group_items):
            for g in self.group_batches:
                if not len(groups[g]):
                    print_log(
                        f'MixedSourceSampler: source {self.sources[s]!r} has '
                        f'no {"portrait" if g == PORTRAIT else "landscape"} '
                        'image; its share of those batches comes from its '
                        'other images (those batches mix orientations)',
                        logger='current',
                        level=logging.WARNING)
                    groups[g] = np.arange(self.sizes[s])

    def _check_bound(self):
        if self.batch_size is None:
            raise RuntimeError(
                'MixedSourceSampler has no batch size: iterate it through '
                "MixedSourceBatchSampler (train_dataloader.batch_sampler="
                "dict(type='MixedSourceBatchSampler')). Another batch "
                'sampler (AspectRatioBatchSampler, the default one) would '
                'regroup its indices and break the per-batch source shares; '
                'use aspect_ratio_grouping=True instead.')

    def __len__(self) -> int:
        """Indices per rank per epoch (nominal when infinite)."""
        self._check_bound()
        return self.num_batches * self.batch_size

    # ------------------------------------------------------------------
    # iteration
    # ------------------------------------------------------------------
    def _block(self, block: int):
        """Orientation of each batch of a block (epoch or nominal block) and
        its index among that orientation's batches of the block."""
        order = np.repeat(
            list(self.group_batches), list(self.group_batches.values()))
        order = order[permutation(
            len(order), self.shuffle, self.seed, 'order', block)]
        within = np.zeros(len(order), np.int64)
        for g in self.group_batches:
            hit = order == g
            within[hit] = np.arange(int(hit.sum()))
        return order, within

    def _epoch_lists(self, epoch: int) -> Dict[int, np.ndarray]:
        """The epoch source's items of each orientation for one epoch, in
        shuffled order, padded by wrapping to whole steps of all ranks."""
        s = self._pace
        groups = self._group_items[s]
        perm = permutation(self.sizes[s], self.shuffle, self.seed, 'epoch', s,
                           epoch)
        rank_of = np.empty(self.sizes[s], np.int64)
        rank_of[perm] = np.arange(self.sizes[s])
        per_step = self.counts[s] * self.world_size
        return {
            g: np.resize(groups[g][np.argsort(rank_of[groups[g]])],
                         n * per_step)
            for g, n in self.group_batches.items()
        }

    def iter_batches(self) -> Iterator[List[int]]:
        """Batches of dataset indices from the current position on."""
        self._check_bound()
        infinite = self.epoch_source is None
        epoch, k = self.epoch, self.offset
        streams = {}
        block = lists = None
        while infinite or k < self.num_batches:
            t, j = divmod(k, self.num_batches) if infinite else (epoch, k)
            if t != block:
                block, (order, within) = t, self._block(t)
                lists = None if infinite else self._epoch_lists(t)
            g, q = int(order[j]), int(within[j])
            batch = []
            for s, count in enumerate(self.counts):
                if lists is not None and s == self._pace:
                    pos = (q * self.world_size + self.rank) * count
                    local = lists[g][pos:pos + count].tolist()
                else:
                    if (s, g) not in streams:
                        streams[s, g] = Stream(self._group_items[s][g],
                                               self.shuffle,
                                               (self.seed, 'stream', s, g))
                    step = t * self.group_batches[g] + q
                    local = streams[s, g].take(
                        (step * self.world_size + self.rank) * count, count)
                batch.extend(self.starts[s] + i for i in local)
            k += 1
            self.offset = k
            yield batch
        self.offset = 0  # the epoch is over; set_epoch picks the next one

    def __iter__(self) -> Iterator[int]:
        for batch in self.iter_batches():
            yield from batch

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` (reseeded) from its first batch, unless the
        sampler already stands in it (a loaded position). No effect when
        infinite."""
        if self.epoch_source is not None and epoch != self.epoch:
            self.epoch, self.offset = int(epoch), 0

    # ------------------------------------------------------------------
    # position
    # ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The position: ``epoch``, ``seed``, ``offset`` (batches this rank
        has handed out in the epoch, or in total when infinite) and what
        they are valid for.

        A DataLoader with workers fetches ``num_workers * prefetch_factor``
        batches ahead, so a loop that checkpoints should store the batches
        it has *trained* as ``offset``: the iteration within the epoch
        (epoch mode) or ``runner.iter`` (infinite mode)."""
        return dict(
            epoch=self.epoch,
            seed=self.seed,
            offset=self.offset,
            rank=self.rank,
            world_size=self.world_size,
            batch_size=self.batch_size,
            sources=list(self.sources),
            sizes=list(self.sizes),
            source_ratio=list(self.source_ratio),
            epoch_source=self.epoch_source,
            aspect_ratio_grouping=self.aspect_ratio_grouping,
            shuffle=self.shuffle)

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position (any rank's: the position is the
        same on all ranks). The next iteration yields the batch the saved
        run would have yielded next."""
        mine = self.state_dict()
        diff = {
            k: (state.get(k), mine[k])
            for k in _SAME_RUN_KEYS if state.get(k) != mine[k]
        }
        if self.batch_size is not None and state.get('batch_size') not in (
                None, self.batch_size):
            diff['batch_size'] = (state['batch_size'], self.batch_size)
        if diff:
            raise ValueError(
                'MixedSourceSampler.load_state_dict: the saved position '
                'belongs to a different setup, it cannot continue the same '
                'sequence; (saved, now): ' +
                ', '.join(f'{k}={v[0]!r} vs {v[1]!r}'
                          for k, v in diff.items()))
        self.seed = int(state['seed'])
        self.epoch = int(state['epoch'])
        self.offset = int(state['offset'])
        self._expected_batch_size = state.get('batch_size')
