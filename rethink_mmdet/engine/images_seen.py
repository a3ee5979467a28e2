"""Images-, instances- and pixels-seen accounting.

He et al. 2019 ("Rethinking ImageNet Pre-training", Fig. 2) compare
convergence not by epochs or iterations but by what the network has seen:

ImageNet's 100 epochs are 128M images (~6.4e12 pixels at 224x224), COCO's
2x fine-tune 2.88M (~3.1e12 at 800x1333), its 6x from scratch 8.64M.

:class:`ImagesSeenHook` counts the same three quantities for any mmdet
training run, summed over all ranks, logs them as scalars and stores them in
checkpoints so that a resumed run continues counting. Each rank counts its
own batches; the counts are summed over ranks (one small all-reduce) only
where they are read: at logging iterations, before a checkpoint is saved,
before validation and at the end of training -- not every iteration.

What one iteration adds: :mod:`.batch_counts`. Names (stable, so that a
script can plot AP against images seen from ``vis_data/scalars.json``):

- message hub keys :data:`SCALAR_KEYS`: ``train/images_seen``,
  ``train/instances_seen``, ``train/pixels_seen``;
- json / text log names :data:`COUNT_NAMES`: ``images_seen``,
  ``instances_seen``, ``pixels_seen`` (the LogProcessor strips the
  ``train/`` prefix unless ``log_with_hierarchy=True``);
- checkpoint: ``checkpoint[CHECKPOINT_KEY]`` =
  ``{'images_seen': int, 'instances_seen': int, 'pixels_seen': int}``
  (plus :data:`EXACT_THROUGH_ITER` only in a record that could not be made
  global, see :meth:`ImagesSeenHook.before_save_checkpoint`).
"""
import logging
from typing import List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import CheckpointHook, Hook, LoggerHook
from mmengine.logging import print_log

from mmdet.registry import HOOKS
from .batch_counts import count_data_batch
from .runner import LongRunRunner

IMAGES_SEEN = 'images_seen'
INSTANCES_SEEN = 'instances_seen'
PIXELS_SEEN = 'pixels_seen'
#: Names of the counts in the json/text log and in the checkpoint record.
COUNT_NAMES = (IMAGES_SEEN, INSTANCES_SEEN, PIXELS_SEEN)
SCALAR_PREFIX = 'train/'  # SCALAR_KEYS: the keys in runner.message_hub
SCALAR_KEYS = tuple(SCALAR_PREFIX + name for name in COUNT_NAMES)
#: Key of the hook's own record in a checkpoint.
CHECKPOINT_KEY = 'images_seen'
#: Key of a record that could not be made global: the iteration through
#: which its counts are complete (see ``before_save_checkpoint``).
EXACT_THROUGH_ITER = 'exact_through_iter'
CURRENT = 'current'  # HistoryBuffer statistic: the latest value, no smoothing


def _all_reduce_sum(values: List[int]) -> List[int]:
    """Sum over ranks (a no-op in a single process)."""
    tensor = torch.tensor(values, dtype=torch.int64)
    all_reduce(tensor, op='sum')
    return tensor.tolist()


def synchronize_counts(runner) -> None:
    """Sum the counts of every :class:`ImagesSeenHook` of ``runner`` over
    ranks now.

    A collective: call it on all ranks at the same point. For a hook that
    saves a checkpoint at an iteration of its own choosing (not on the
    ``CheckpointHook`` schedule, e.g. at a preemption signal), right before
    the save, so that the stored counts are global; without it a
    distributed run stores the counts of the last summing point and marks
    the record (see :meth:`ImagesSeenHook.before_save_checkpoint`).

    Args:
        runner (Runner): The runner of the training process.
    """
    for hook in runner.hooks:
        if isinstance(hook, ImagesSeenHook):
            hook.synchronize()


@HOOKS.register_module()
class ImagesSeenHook(Hook):
    """Count images, instances and pixels seen in training, over all ranks.

    He et al. 2019, Fig. 2: convergence compared by images, instances and
    pixels seen (see the module docstring for the exact definitions).

    Runner events used:

    - ``before_run``: find the log interval and the ``CheckpointHook``\\ s;
      make sure the LogProcessor logs the counts unsmoothed whatever its
      ``mean_pattern`` (a ``method_name='current'`` entry in
      ``log_processor.custom_cfg``, unless the config has one).
    - ``after_load_checkpoint``: keep the checkpoint's record.
    - ``before_train``: restore the record if the run *resumed* from that
      checkpoint (``runner.iter`` equals the checkpoint's iteration); with
      ``load_from`` (fine-tuning, iteration 0) counting starts at 0.
    - ``after_train_iter``: count this rank's batch; on logging iterations
      (every ``interval``, the end of an epoch, the last iteration) and on
      the iterations a ``CheckpointHook`` saves at, sum over ranks; on
      logging iterations update the message hub scalars.
    - ``after_train_epoch`` / ``before_val``: sum over ranks, for the
      checkpoints saved by epoch and for ``save_best``.
    - ``before_save_checkpoint``: store the global counts under
      :data:`CHECKPOINT_KEY`.
    - ``after_train``: sum over ranks and log the totals.
    - ``before_val`` and ``after_train`` also write the exact totals as a
      ``scalars.json`` line (:meth:`_write_totals`).

    Summing over ranks: each rank adds its batches' counts to its own
    pending counts; :meth:`synchronize` all-reduces (SUM) the pending
    counts (3 int64, one collective) into totals that are then identical on
    all ranks. mmengine's ``Runner.save_checkpoint`` (and so
    ``before_save_checkpoint``) runs on rank 0 only, where no collective
    can be called, so the hook sums *before* every save it can foresee:
    the ``CheckpointHook`` schedule (``interval``, ``save_begin``,
    ``save_last``, by iteration or by epoch) and validation (``save_best``).
    A hook that saves at other iterations calls :func:`synchronize_counts`
    on all ranks first. A single process needs no collective and always
    stores exact counts. Because only pending counts are ever reduced, a
    restored total is set on every rank and is never multiplied by the
    world size.

    Args:
        interval (int, optional): Update the message hub scalars every
            ``interval`` iterations (and at the end of every epoch and of
            training). Defaults to None: the interval of the runner's
            ``LoggerHook``, or 1 without one.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL), CheckpointHook

    def __init__(self, interval: Optional[int] = None) -> None:
        if interval is not None and int(interval) < 1:
            raise ValueError(
                f'ImagesSeenHook: interval must be >= 1, got {interval}. '
                'Leave it None to follow the LoggerHook interval.')
        self.interval = interval
        self._interval = interval or 1
        #: Totals over all ranks through iteration :attr:`synced_iter`.
        self.counts = dict.fromkeys(COUNT_NAMES, 0)
        self.synced_iter = 0
        self._pending = [0] * len(COUNT_NAMES)  # this rank's, since then
        self._pending_iters = 0  # the same on every rank
        self._iter = 0  # iterations trained (runner.iter after the last)
        self._checkpoint_hooks: List[CheckpointHook] = []
        self._loaded = None  # (record or None, iteration) from a checkpoint
        self._sum = _all_reduce_sum  # or the runner's, see before_run

    def before_run(self, runner) -> None:
        """Resolve the log interval, find the checkpoint schedule and log
        the counts unsmoothed.

        mmengine's LogProcessor averages the keys matching its
        ``mean_pattern`` over a window and logs the others' current value.
        Its default pattern (``loss|time|data_time|grad_norm``) does not
        match the counts, so they are logged unsmoothed already; the
        ``custom_cfg`` entries keep them so under a ``mean_pattern`` that
        matches them (a cumulative count must never be averaged). They are
        added here rather than in the config because the
        LogProcessor's own check wants a ``window_size`` in every
        ``custom_cfg`` entry of an iteration-based run, which the
        ``current`` statistic does not accept.

        Args:
            runner (Runner): The runner of the training process.
        """
        # LongRunRunner sums through its per-iteration all-reduce, in which
        # its stop flag travels: one collective per iteration between us.
        self._sum = runner.sum_over_ranks if isinstance(
            runner, LongRunRunner) else _all_reduce_sum
        if self.interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self._interval = loggers[0].interval if loggers else 1
        self._checkpoint_hooks = [
            h for h in runner.hooks if isinstance(h, CheckpointHook)
        ]
        custom_cfg = runner.log_processor.custom_cfg
        named = {cfg.get('log_name', cfg['data_src']) for cfg in custom_cfg}
        for name in COUNT_NAMES:
            if name not in named:
                custom_cfg.append(dict(data_src=name, method_name=CURRENT))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's counts until ``before_train`` knows whether
        this is a resume (the loop's iteration is set after this event).

        Args:
            runner (Runner): The runner of the training process.
            checkpoint (dict): The loaded checkpoint.
        """
        self._loaded = (checkpoint.get(CHECKPOINT_KEY),
                        checkpoint.get('meta', {}).get('iter'))

    def before_train(self, runner) -> None:
        """Restore the counts when resuming.

        Args:
            runner (Runner): The runner of the training process.

        Raises:
            KeyError: If the resumed checkpoint's record lacks a count.
        """
        self._iter = self.synced_iter = runner.iter
        if self._loaded is None:
            return
        record, ckpt_iter = self._loaded
        self._loaded = None
        if runner.iter == 0 or runner.iter != ckpt_iter:
            if record is not None:
                print_log(
                    f'ImagesSeenHook: the loaded checkpoint (iter '
                    f'{ckpt_iter}) carries {record}; this run starts at iter '
                    f'{runner.iter} (load_from, not resume), so counting '
                    'starts at 0.',
                    logger='current')
            return
        if record is None:
            print_log(
                f'ImagesSeenHook: resumed at iter {runner.iter} from a '
                f"checkpoint without a '{CHECKPOINT_KEY}' record (trained "
                'without this hook); the counts start at 0 here and miss '
                'the earlier iterations.',
                logger='current',
                level=logging.WARNING)
            return
        missing = set(COUNT_NAMES) - set(record)
        if missing:
            raise KeyError(
                f"ImagesSeenHook: the checkpoint's '{CHECKPOINT_KEY}' record "
                f'{record} lacks {sorted(missing)}; it was not written by '
                'this hook. Remove the record from the checkpoint to count '
                'from 0.')
        # Global totals on every rank: only pending counts are reduced.
        self.counts = {name: int(record[name]) for name in COUNT_NAMES}
        print_log(
            f'ImagesSeenHook: resumed counts {self.counts}', logger='current')
        if EXACT_THROUGH_ITER in record:
            print_log(
                f'ImagesSeenHook: the resumed counts are complete through '
                f'iter {record[EXACT_THROUGH_ITER]} only; iters '
                f'{record[EXACT_THROUGH_ITER] + 1}-{ckpt_iter} are missing '
                '(the checkpoint was saved between two summing points, see '
                'synchronize_counts).',
                logger='current',
                level=logging.WARNING)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Count the batch; sum over ranks where the counts are read.

        Args:
            runner (Runner): The runner of the training process.
            batch_idx (int): The index of the current batch in the train
                loop.
            data_batch (dict, optional): Data from the dataloader.
                Defaults to None.
            outputs (dict, optional): Outputs from the model.
                Defaults to None.
        """
        pending = self._pending
        for i, value in enumerate(count_data_batch(data_batch)):
            pending[i] += value
        self._pending_iters += 1
        self._iter = runner.iter + 1
        log_point = (
            self.every_n_inner_iters(batch_idx, self._interval)
            or self.end_of_epoch(runner.train_dataloader, batch_idx)
            or self.is_last_train_iter(runner))
        if log_point or self._checkpoint_due(runner):
            self.synchronize()
        if log_point:
            self._update_scalars(runner)

    def before_checkpoint_at_step(self, runner, step: int) -> None:
        """Sum over ranks before :class:`~.runner.LongRunRunner` saves a
        checkpoint the schedule did not foresee (its custom event, on every
        rank).

        Args:
            runner (Runner): The runner of the training process.
            step (int): The iterations the checkpoint holds.
        """
        self.synchronize()

    def after_train_epoch(self, runner) -> None:
        """Sum over ranks before a ``CheckpointHook(by_epoch=True)`` saves.

        Args:
            runner (Runner): The runner of the training process.
        """
        self.synchronize()

    def before_val(self, runner) -> None:
        """Sum over ranks before validation, where ``save_best`` saves, and
        write the totals (:meth:`_write_totals`).

        Args:
            runner (Runner): The runner of the validation process.
        """
        self.synchronize()
        self._write_totals(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the global counts (rank 0 only, as mmengine saves there).

        The counts are global when the save follows a summing point (every
        save the hook foresees, see the class docstring) and in a single
        process. Otherwise (a distributed run saved by a hook that did not
        call :func:`synchronize_counts` first) the record stores the totals
        of the last summing point, adds :data:`EXACT_THROUGH_ITER` and a
        warning is logged: the other ranks' later counts are out of reach.

        Args:
            runner (Runner): The runner of the training process.
            checkpoint (dict): The checkpoint about to be saved.
        """
        if self._pending_iters and get_world_size() == 1:
            self.synchronize()  # local counts are the global ones
        record = dict(self.counts)
        if self._pending_iters:
            record[EXACT_THROUGH_ITER] = self.synced_iter
            print_log(
                f'ImagesSeenHook: checkpoint at iter {self._iter} saved '
                f'between two summing points: it stores the counts through '
                f'iter {self.synced_iter}. A hook that saves at its own '
                'iterations should call rethink_mmdet.engine.images_seen.'
                'synchronize_counts(runner) on all ranks before the save.',
                logger='current',
                level=logging.WARNING)
        checkpoint[CHECKPOINT_KEY] = record

    def after_train(self, runner) -> None:
        """Sum over ranks and log the totals of the run.

        Args:
            runner (Runner): The runner of the training process.
        """
        self.synchronize()
        self._write_totals(runner)
        runner.logger.info('ImagesSeenHook: seen in training (all ranks) ' +
                           ', '.join(f'{name}={value}'
                                     for name, value in self.counts.items()))

    def synchronize(self) -> None:
        """Add the pending counts of all ranks to the totals.

        A collective in a distributed run whenever counts are pending
        (every rank has the same number of pending iterations, so all ranks
        call it or none does); a no-op when nothing is pending. Under
        :class:`~.runner.LongRunRunner` through its
        :meth:`~.runner.LongRunRunner.sum_over_ranks`.
        """
        if not self._pending_iters:
            return
        totals = self._sum(self._pending)
        for name, value in zip(COUNT_NAMES, totals):
            self.counts[name] += value
        self._pending = [0] * len(COUNT_NAMES)
        self._pending_iters = 0
        self.synced_iter = self._iter

    def _checkpoint_due(self, runner) -> bool:
        """Whether a ``CheckpointHook`` saves after this iteration (its own
        rule in ``CheckpointHook.after_train_iter``)."""
        for hook in self._checkpoint_hooks:
            if hook.by_epoch:
                continue  # saves in after_train_epoch: see there
            if hook.every_n_train_iters(runner, hook.interval,
                                        hook.save_begin):
                return True
            if hook.save_last and hook.is_last_train_iter(runner):
                return True
        return False

    def _write_totals(self, runner) -> None:
        """A ``scalars.json`` line ``{"iter": N, <the counts>}`` with the
        exact totals after ``N`` iterations (before each validation and at
        the end; the ``LoggerHook`` writes only every ``interval``, so a
        533-iteration run logged every 10 would end at 530). Only in
        training, only on rank 0 (the visualizer's rule).

        Args:
            runner (Runner): The runner.
        """
        if self._iter:
            runner.visualizer.add_scalars(
                dict(iter=self._iter, **self.counts), step=self._iter)

    def _update_scalars(self, runner) -> None:
        """Write the totals to the message hub as ``train/<name>``."""
        for key, name in zip(SCALAR_KEYS, COUNT_NAMES):
            # Not resumed through the message hub: the checkpoint record
            # under CHECKPOINT_KEY is the one source of truth.
            runner.message_hub.update_scalar(
                key, self.counts[name], resumed=False)
