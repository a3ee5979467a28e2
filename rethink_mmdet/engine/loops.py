"""Train loops that resume in constant time and stop inside an epoch.

He et al. 2019 train from scratch for 6x-9x schedules (540k-810k
iterations), days on preemptible clusters. mmengine's ``IterBasedTrainLoop``
resumes by fetching every trained batch again through the whole data
pipeline (``for _ in range(self._iter): next(self.dataloader_iterator)``):
hours at iteration 500k, at every restart. mmengine's
``EpochBasedTrainLoop`` cannot resume inside an epoch at all (and does not
stop inside one when a hook sets ``stop_training``).

:class:`ResumableIterBasedTrainLoop` and
:class:`ResumableEpochBasedTrainLoop` are those loops (same arguments, same
batches, same hooks) plus a saved sampler position: after every fetched
batch they record ``(epoch, batch, seed)`` of the train sampler (see
:mod:`.sampler_state`) in the runner's message hub under
:data:`POSITION_KEY`, so every checkpoint holds it (``message_hub`` is in
every mmengine checkpoint and is restored by ``Runner.resume``). On resume
the batch sampler starts right there: no trained batch is loaded again, no
batch is skipped, and each rank sees the image ids, in the order, that the
uninterrupted run would have shown it. The epoch loop resumes a checkpoint
taken in the middle of an epoch inside that epoch, at the next batch.

Config (the train loop is the only change)::

    train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=90000,
                     val_interval=10000)
    # or
    train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=73)

A checkpoint without a saved position (written by mmengine's loops) resumes
at the position derived from its iteration (finite samplers: ``iter`` =
``epoch * len(dataloader) + batch``; infinite: ``batch = iter``).

Random states: the dataloader iterator of a resumed loop is created after
the ``before_train_epoch`` event (where ``LongRunRunner`` restores the
saved states) without consuming torch's generator, so a run with
``num_workers=0`` resumes bitwise exactly. Dataloader workers are seeded
from ``(seed, rank, worker id)`` by mmengine at every start (as at every
epoch); with ``num_workers > 0`` the image ids are exact and the workers'
augmentation draws start over from those seeds.
"""
import logging
from contextlib import nullcontext
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import DataLoader

from mmdet.registry import LOOPS
from .sampler_state import (ResumableBatchSampler, SamplerPosition,
                            wrap_batch_sampler)

__all__ = [
    'POSITION_KEY', 'ResumableIterBasedTrainLoop',
    'ResumableEpochBasedTrainLoop'
]

#: Message hub runtime-info key (saved in every checkpoint) of the train
#: sampler position: ``dict(epoch, batch, seed, iter, world_size)``.
POSITION_KEY = 'train_sampler_position'


def _resumable(loop_name: str, dataloader: Union[DataLoader, Dict]):
    if isinstance(dataloader, dict):
        return wrap_batch_sampler(dataloader)
    if not isinstance(
            getattr(dataloader, 'batch_sampler', None), ResumableBatchSampler):
        raise TypeError(
            f'{loop_name} restores the position of the train batch sampler, '
            'so it builds the train dataloader itself: pass '
            'train_dataloader as a config dict, not a built DataLoader (or '
            'build it with batch_sampler=ResumableBatchSampler(...)).')
    return dataloader


class _ResumableMixin:
    """Recording and restoring the sampler position (shared by the two
    loops)."""

    def _batch_sampler(self) -> ResumableBatchSampler:
        return self.dataloader.batch_sampler

    def _record(self, epoch: int, batch: int, iteration: int) -> None:
        self.runner.message_hub.update_info(
            POSITION_KEY,
            dict(
                epoch=epoch,
                batch=batch,
                seed=self._batch_sampler().seed,
                iter=iteration,
                world_size=get_world_size()))

    def _saved_position(self, derived: Tuple[int, int]) -> SamplerPosition:
        """The position to resume from at ``self._iter``: the recorded one
        of the checkpoint, else ``derived`` (with a log line saying so)."""
        saved = self.runner.message_hub.get_info(POSITION_KEY)
        name = type(self).__name__
        if saved is None or saved.get('iter') != self._iter:
            print_log(
                f'{name}: the resumed checkpoint (iteration {self._iter}) '
                'holds no sampler position of this iteration (written by '
                "another loop?): continuing at the position derived from "
                f'the iteration, epoch {derived[0]} batch {derived[1]}.',
                logger='current',
                level=logging.WARNING)
            return SamplerPosition(*derived)
        if saved.get('world_size') != get_world_size():
            print_log(
                f'{name}: the checkpoint was saved with '
                f"{saved.get('world_size')} ranks, this run has "
                f'{get_world_size()}: each rank resumes at the same batch of '
                'its new share of the data, which is not the uninterrupted '
                "run's order.",
                logger='current',
                level=logging.WARNING)
        print_log(
            f'{name}: resuming the train sampler at epoch {saved["epoch"]}, '
            f'batch {saved["batch"]} (iteration {self._iter}) without '
            'loading the trained batches again.',
            logger='current')
        from .runner import LongRunRunner  # it imports this module
        if not isinstance(self.runner, LongRunRunner):
            print_log(
                f'{name}: {type(self.runner).__name__} does not restore the '
                'random states: the trained batches are not loaded again, '
                'so the random augmentations after the resume differ from '
                "an uninterrupted run (mmengine's replaying loop happens to "
                "re-draw them). Set runner_type='mmdet.LongRunRunner' for an "
                'exact continuation.',
                logger='current',
                level=logging.WARNING)
        return SamplerPosition(saved['epoch'], saved['batch'], saved['seed'])

    def _validate_if_due(self, step: int, last: int) -> None:
        """mmengine's validation rule after iteration / epoch ``step``."""
        self._decide_current_val_interval()
        if (self.runner.val_loop is not None and step >= self.val_begin
                and (step % self.val_interval == 0 or step == last)):
            self.runner.val_loop.run()

    def _iterate_from(self, position: Optional[SamplerPosition]):
        """A new iterator of the dataloader, started at ``position``.

        A resumed iterator does not consume torch's global generator (the
        uninterrupted run created its iterator long before the saved
        random states), so the restored states continue exactly.
        """
        if position is not None:
            self._batch_sampler().start_at(position)
        fork = torch.random.fork_rng(devices=[]) if position is not None \
            else nullcontext()
        with fork:
            return iter(self.dataloader)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(_ResumableMixin, IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` that resumes at the saved sampler
    position instead of fetching the trained batches again (see the module
    docstring).

    A finite sampler (``DefaultSampler``) is iterated pass after pass with
    ``set_epoch(pass)`` at each new pass, as mmengine does.

    Args:
        runner (Runner): A reference of runner.
        dataloader (dict): The train dataloader config (a built
            ``DataLoader`` only if its batch sampler is a
            ``ResumableBatchSampler``).
        max_iters (int): Total training iterations.
        val_begin (int): The iteration that begins validating.
            Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1000.
        dynamic_intervals (List[Tuple[int, int]], optional): Milestones
            and the validation intervals from them. Defaults to None.
    """

    def __init__(
            self,
            runner,
            dataloader: Union[DataLoader, Dict],
            max_iters: int,
            val_begin: int = 1,
            val_interval: int = 1000,
            dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        # IterBasedTrainLoop.__init__ would start the dataloader iterator
        # (workers, prefetch) at position 0: set its attributes here and
        # start the iterator at the right position in run().
        BaseLoop.__init__(self, runner,
                          _resumable(type(self).__name__, dataloader))
        self._max_iters = int(max_iters)
        if self._max_iters != max_iters:
            raise ValueError(
                f'max_iters must be an integer, got {max_iters!r}')
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = \
                self.dataloader.dataset.metainfo
        self.dynamic_milestones, self.dynamic_intervals = \
            calc_dynamic_intervals(self.val_interval, dynamic_intervals)
        self._pass = 0
        self._pass_batch = 0
        self._iterator = None

    def _derived_position(self) -> Tuple[int, int]:
        if isinstance(self._batch_sampler().sampler, InfiniteSampler):
            return 0, self._iter
        passes, batch = divmod(self._iter, len(self.dataloader))
        if batch == 0 and passes > 0:  # at the end of a pass, not past it
            return passes - 1, len(self.dataloader)
        return passes, batch

    def _next_batch(self):
        for _ in range(2):
            try:
                batch = next(self._iterator)
            except StopIteration:  # a finite sampler's pass is over
                self._pass += 1
                self._pass_batch = 0
                self._batch_sampler().set_epoch(self._pass)
                self._iterator = iter(self.dataloader)
                continue
            self._pass_batch += 1
            self._record(self._pass, self._pass_batch, self._iter + 1)
            return batch
        raise RuntimeError(
            f'{type(self).__name__}: the train dataloader yields no batch '
            '(an empty dataset, or drop_last with fewer images than a '
            'batch). Check train_dataloader.')

    def run(self) -> torch.nn.Module:
        """Launch training (resuming at the saved sampler position)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        position = None
        if self._iter > 0:
            position = self._saved_position(self._derived_position())
            self._pass, self._pass_batch = position.epoch, position.batch
        self._iterator = self._iterate_from(position)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = self._next_batch()
            self.run_iter(data_batch)
            self._validate_if_due(self._iter, self._max_iters)
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(_ResumableMixin, EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that resumes inside an epoch at
    the saved sampler position, and stops inside an epoch when a hook sets
    ``stop_training`` (e.g. ``LongRunRunner`` at a preemption). An epoch
    stopped inside runs no ``after_train_epoch`` hooks and no validation: it is
    not over, and the resumed run finishes it.

    Args:
        runner (Runner): A reference of runner.
        dataloader (dict): The train dataloader config (a built
            ``DataLoader`` only if its batch sampler is a
            ``ResumableBatchSampler``).
        max_epochs (int): Total training epochs.
        val_begin (int): The epoch that begins validating. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1.
        dynamic_intervals (List[Tuple[int, int]], optional): Milestones
            and the validation intervals from them. Defaults to None.
    """

    def __init__(
            self,
            runner,
            dataloader: Union[DataLoader, Dict],
            max_epochs: int,
            val_begin: int = 1,
            val_interval: int = 1,
            dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        super().__init__(runner, _resumable(type(self).__name__,
                                            dataloader), max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        self._resume_pending = True

    def _resume_position(self) -> Optional[SamplerPosition]:
        """The position inside the current epoch, at the first epoch after
        a resume (None when the epoch starts at its first batch)."""
        if not self._resume_pending:
            return None
        self._resume_pending = False
        if self._iter == 0:
            return None
        batch = self._iter - self._epoch * len(self.dataloader)
        position = self._saved_position((self._epoch, batch))
        if position.epoch != self._epoch:
            raise RuntimeError(
                f'{type(self).__name__}: the checkpoint of iteration '
                f'{self._iter} names epoch {self._epoch}, but its sampler '
                f'position is in epoch {position.epoch}: it was not '
                'written by this loop at an iteration boundary. Resume from '
                'another checkpoint.')
        return position if position.batch > 0 else None

    def run(self) -> torch.nn.Module:
        """Launch training."""
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            if not self.run_epoch():
                break  # stopped inside the epoch
            self._validate_if_due(self._epoch, self._max_epochs)
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self) -> bool:
        """Iterate (the rest of) one epoch.

        Returns:
            bool: Whether the epoch was finished (False: ``stop_training``
            was set inside it).
        """
        position = self._resume_position()
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start = position.batch if position is not None else 0
        for idx, data_batch in enumerate(self._iterate_from(position), start):
            self._record(self._epoch, idx + 1, self._iter + 1)
            self.run_iter(idx, data_batch)
            if self.stop_training:
                return False
        self._record(self._epoch + 1, 0, self._iter)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
        return True
