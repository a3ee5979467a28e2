"""LongRunRunner: mmengine's Runner for long preemptible runs.

He et al. 2019 train detectors from scratch on schedules up to 6x-9x
(540k-810k iterations at batch 16): days of cluster time, on clusters that
preempt jobs or end them at a time limit, warning them with a signal
shortly before ``SIGKILL``. What a run does at its start, at a checkpoint
and at a stop is run-wide state, so it lives in one Runner subclass (the
extension point mmengine offers for it, selected by ``runner_type``, which
mmdet's ``tools/train.py`` and ``mim train`` honour), not in hooks that
find each other:

- preemption: the signal handlers (:mod:`.preemption`), the stop decision
  agreed across ranks after every train iteration (before the first one and
  after every validation batch), the checkpoint at the stopped iteration,
  and the exit with :data:`PREEMPTED_EXIT_CODE` (75);
- every rank's random streams in each checkpoint and their continuation on
  resume (:mod:`.rng_state`);
- atomic checkpoint writes (``'atomic_local'``, :mod:`.atomic_checkpoint`)
  and ``last_checkpoint`` naming the newest complete checkpoint;
- whether this process trains, and whether it resumed or loaded
  (:attr:`is_training`, :attr:`resumed_from`, :attr:`loaded_from`), for
  hooks that ask (:mod:`.runner_state`).

Config: ``runner_type = 'mmdet.LongRunRunner'``, ``resume = True`` and a
loop of :mod:`.loops` (``docs/long_runs.md``).

Hooks take part through mmengine's events. The runner acts at them itself
(:meth:`call_hook`): its random streams before the hooks, its preemption
checks after them (so a ``CheckpointHook`` that saves at this iteration has
saved). Two things it offers hooks: :meth:`sum_over_ranks`, the one
per-iteration all-reduce that the stop flag rides in (``ImagesSeenHook``
sums its counts through it, so a steady-state iteration has one
collective), and the custom event ``before_checkpoint_at_step``, called on
every rank before a checkpoint the schedule did not foresee.
"""
import inspect
import math
import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, is_distributed, is_main_process
from mmengine.runner import Runner
from mmengine.runner.checkpoint import find_latest_checkpoint

from mmdet.registry import RUNNERS
from .atomic_checkpoint import ATOMIC_BACKEND, repair_last_checkpoint
from .preemption import ARMED, PreemptionSignals, preemption_options
from .preemption_checks import preemptible_checkpoint_hook
from .rng_state import RNGStreams
from .runner_state import save_checkpoint_at
from .signals import PREEMPTED_EXIT_CODE

__all__ = ['LongRunRunner', 'BEFORE_CHECKPOINT_AT_STEP']

#: Custom hook event called on every rank (a collective point) before the
#: runner saves a checkpoint at an iteration of its own choosing.
BEFORE_CHECKPOINT_AT_STEP = 'before_checkpoint_at_step'


class _Preempted(Exception):
    """Raised where no loop can be stopped (before the first iteration,
    during validation): :meth:`LongRunRunner.train` ends the run."""


@RUNNERS.register_module()
class LongRunRunner(Runner):
    """mmengine's ``Runner`` that stops on preemption signals with a
    checkpoint and exit code 75, continues every rank's random streams on
    resume, and writes checkpoints atomically (see the module docstring).

    Arguments are mmengine ``Runner``'s, plus two config keys (read from
    ``cfg`` when built by ``from_cfg``):

    Args:
        preemption_cfg (dict, optional): ``signals`` (names, defaults to
            ``('SIGTERM', 'SIGUSR1')``), ``atomic_checkpoints`` (write local
            checkpoints with the ``'atomic_local'`` backend when no
            ``backend_args`` are set, defaults to True) and
            ``repair_last_checkpoint`` (before resuming, point
            ``last_checkpoint`` at the newest complete checkpoint and remove
            temporary files of killed writes, defaults to True).
            Defaults to None: all defaults.
        rng_state_cfg (dict, optional): ``strict``: raise if a resumed
            checkpoint holds no random states, instead of warning (defaults
            to False). Defaults to None.

    Raises:
        RuntimeError: If built outside the main thread (signal handlers can
            only be installed there).
    """

    def __init__(self,
                 *args,
                 preemption_cfg: Optional[dict] = None,
                 rng_state_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        given = inspect.signature(Runner.__init__).bind(self, *args,
                                                        **kwargs).arguments
        cfg = given.get('cfg') or {}
        if preemption_cfg is None:
            preemption_cfg = cfg.get('preemption_cfg', None) or {}
        if rng_state_cfg is None:
            rng_state_cfg = cfg.get('rng_state_cfg', None) or {}
        options = preemption_options(preemption_cfg)
        # Installed before anything is built: a signal from here exits 75.
        self.preemption = PreemptionSignals(options['signals'])
        self.rng_streams = RNGStreams(**rng_state_cfg)
        self._atomic = bool(options['atomic_checkpoints'])
        self._repair = bool(options['repair_last_checkpoint'])
        self._resume_requested = bool(given.get('resume', False))
        self._requested_load_from = given.get('load_from')
        self._training = False
        self._resumed_from: Optional[str] = None
        self._loaded_from: Optional[str] = None
        self._checkpoint_hook = None
        self._first_iter = True
        self._val_checks = 0
        self._agreed: Optional[bool] = None  # stop flag from sum_over_ranks
        self._in_after_train_iter = False
        self._preempted_at: Optional[int] = None
        self._preempted_ckpt: Optional[str] = None
        super().__init__(*args, **kwargs)

    # what hooks may ask -----------------------------------------------------
    @property
    def is_training(self) -> bool:
        """Whether this process runs :meth:`train` (not ``val``/``test``)."""
        return self._training

    @property
    def resume_requested(self) -> bool:
        """The ``resume`` argument (``--resume``)."""
        return self._resume_requested

    @property
    def load_from(self) -> Optional[str]:
        """The ``load_from`` argument."""
        return self._requested_load_from

    @property
    def resume_checkpoint(self) -> Optional[str]:
        """The checkpoint this run resumes from, or None (mmengine's
        ``load_or_resume`` rule, evaluated without loading)."""
        if not self._resume_requested:
            return None
        return self._requested_load_from or find_latest_checkpoint(
            self.work_dir)

    @property
    def resumed_from(self) -> Optional[str]:
        """The checkpoint :meth:`resume` loaded, or None."""
        return self._resumed_from

    @property
    def loaded_from(self) -> Optional[str]:
        """The checkpoint :meth:`load_checkpoint` loaded last (also on
        resume), or None."""
        return self._loaded_from

    def sum_over_ranks(self, values: Sequence[int]) -> List[int]:
        """Sum integers over ranks (a collective: call it on all ranks).

        Inside ``after_train_iter`` of a training run, this rank's stop flag
        travels in the same all-reduce and is the iteration's stop decision,
        so a hook that sums there adds no collective.

        Args:
            values (Sequence[int]): This rank's values.

        Returns:
            list[int]: The sums.
        """
        carry = self._in_after_train_iter and self.preemption.phase == ARMED
        sums = torch.tensor(
            list(values) + [int(self.preemption.requested)] * carry,
            dtype=torch.int64)
        all_reduce(sums, op='sum')  # no-op when not distributed
        sums = sums.tolist()
        if carry:
            self._agreed = sums.pop() > 0
        return sums

    def save_checkpoint_at(self, step: int) -> str:
        """Save a checkpoint of ``step`` trained iterations now, through
        the ``CheckpointHook`` (its naming, ``max_keep_ckpts`` and
        ``last_checkpoint``). A collective: call it on all ranks; they first
        get the ``before_checkpoint_at_step`` event.

        Args:
            step (int): Iterations trained (``runner.iter + 1`` inside
                ``after_train_iter``, ``runner.iter`` during validation).

        Returns:
            str: The checkpoint's path.
        """
        self.call_hook(BEFORE_CHECKPOINT_AT_STEP, step=step)
        save_checkpoint_at(self._checkpoint_hook, self, step)
        return self._checkpoint_hook.last_ckpt

    # mmengine's Runner methods, extended ------------------------------------
    def train(self) -> torch.nn.Module:
        """Train; after a preemption end the run and exit with 75.

        Raises:
            SystemExit: With :data:`PREEMPTED_EXIT_CODE` after a preemption.
        """
        self._training = True
        model = None
        try:
            model = super().train()
        except _Preempted:  # stopped where no loop could be stopped
            self.call_hook('after_train')
            self.call_hook('after_run')
        finally:
            self._training = False
        if self._preempted_at is None:
            return model
        self.preemption.ignore_until_exit()
        self.logger.warning(
            f'Stopped at iteration {self._preempted_at} for preemption; '
            f'checkpoint: {self._preempted_ckpt}. Exiting with code '
            f'{PREEMPTED_EXIT_CODE}: re-run the same command to resume.')
        raise SystemExit(PREEMPTED_EXIT_CODE)

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's ``resume``, recording :attr:`resumed_from`."""
        super().resume(filename, *args, **kwargs)
        self._resumed_from = filename

    def load_checkpoint(self, filename: str, *args, **kwargs):
        """mmengine's ``load_checkpoint``, recording :attr:`loaded_from`."""
        self._loaded_from = filename
        return super().load_checkpoint(filename, *args, **kwargs)

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None):
        """mmengine's ``save_checkpoint`` (rank 0 writes), called on every
        rank: the ranks first gather their random states; a local
        checkpoint without ``backend_args`` is written atomically.

        Args are mmengine's: see ``Runner.save_checkpoint``.
        """
        self.rng_streams.gather()  # collective when distributed
        if self._atomic and backend_args is None \
                and file_client_args is None and '://' not in str(out_dir):
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().save_checkpoint(out_dir, filename, file_client_args,
                                save_optimizer, save_param_scheduler, meta,
                                by_epoch, backend_args)

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """The runner's own part of an event, around the hooks': random
        streams before them, preemption after them.

        Args:
            fn_name (str): The event, e.g. ``'after_train_iter'``.
            **kwargs: The event's arguments.
        """
        first = getattr(self, f'_first_{fn_name}', None)
        if first is not None:
            first(**kwargs)
        outer = self._in_after_train_iter  # events nest (a save in it)
        self._in_after_train_iter = fn_name == 'after_train_iter'
        try:
            super().call_hook(fn_name, **kwargs)
        finally:
            self._in_after_train_iter = outer
        last = getattr(self, f'_last_{fn_name}', None)
        if last is not None:
            last(**kwargs)

    # random streams (before the hooks) --------------------------------------
    def _first_after_load_checkpoint(self, checkpoint: dict) -> None:
        self.rng_streams.loaded(checkpoint)

    def _first_before_save_checkpoint(self, checkpoint: dict) -> None:
        self.rng_streams.store(checkpoint, self.logger)

    def _first_before_train_epoch(self) -> None:
        self.rng_streams.prepare_resume(self.iter, self.logger)
        if not hasattr(self.train_loop, 'dataloader_iterator'):
            # The loop creates its iterator after this event (the
            # resumable loops, mmengine's epoch loop): restore now.
            self.rng_streams.restore_pending()

    def _first_before_train_iter(self, **kwargs) -> None:
        if self.rng_streams.restore_pending():
            self.logger.warning(
                f'LongRunRunner: {type(self.train_loop).__name__} fetched '
                'the first resumed batch before any event: the random '
                'states are restored at the first resumed iteration (that '
                "batch's augmentation is not continued exactly). Use "
                "train_cfg.type='ResumableIterBasedTrainLoop'.")

    def _first_before_val(self) -> None:
        self.rng_streams.set_aside()

    def _first_after_val(self) -> None:
        self.rng_streams.put_back()

    # preemption (after the hooks) -------------------------------------------
    def _last_before_run(self) -> None:
        if not self._training:
            self.preemption.disarm()  # a test or val run: signals as before
            return
        ckpt = preemptible_checkpoint_hook(self)
        self._checkpoint_hook = ckpt
        self.preemption.arm()
        self._preempted_at = self._agreed = None
        self._first_iter = True
        local = ckpt.out_dir is None or '://' not in str(ckpt.out_dir)
        if self._repair and local:
            if is_main_process():
                out_dir = ckpt.out_dir or self.work_dir
                if out_dir != self.work_dir:  # CheckpointHook's rule
                    out_dir = osp.join(
                        out_dir, osp.basename(self.work_dir.rstrip(osp.sep)))
                repair_last_checkpoint(self.work_dir, [out_dir],
                                       ckpt.filename_tmpl)
            barrier()  # the other ranks read last_checkpoint after this

    def _last_before_train_iter(self, **kwargs) -> None:
        if not self._training or not self._first_iter:
            return
        self._first_iter = False
        if self._agree_on_stop():
            self._stop(self.iter, 'before the first iteration', save=False)
            raise _Preempted

    def _last_after_train_iter(self, **kwargs) -> None:
        agreed, self._agreed = self._agreed, None
        if not self._training:
            return
        if not (agreed if agreed is not None else self._agree_on_stop()):
            return
        self._stop(self.iter + 1, 'at the end of an iteration', save=True)
        loop = self.train_loop
        loop.stop_training = True  # mmengine's stop request to a loop
        if hasattr(loop, 'val_begin'):
            loop.val_begin = math.inf  # no validation while being preempted

    def _last_before_val_epoch(self) -> None:
        # The flag is agreed after each validation batch that every rank
        # runs (the ranks must agree at the same batches).
        self._val_checks = 0
        if not self._training:
            return  # not a validation inside training
        try:
            checks = len(self.val_loop.dataloader)
        except (AttributeError, TypeError):
            checks = 0
        if is_distributed():
            count = torch.tensor([checks], dtype=torch.int64)
            all_reduce(count, op='min')
            checks = int(count.item())
        self._val_checks = checks

    def _last_after_val_iter(self, batch_idx: int, **kwargs) -> None:
        if self._training and batch_idx < self._val_checks \
                and self._agree_on_stop():
            self._stop(self.iter, 'during validation', save=True)
            raise _Preempted

    def _last_after_run(self) -> None:
        if self._preempted_at is None:
            self.preemption.disarm()

    def _agree_on_stop(self) -> bool:
        """Whether any rank got a signal (one all-reduce of the flag)."""
        if self.preemption.phase != ARMED:
            return False
        return self.sum_over_ranks([int(self.preemption.requested)])[0] > 0

    def _stop(self, step: int, when: str, save: bool) -> None:
        """Checkpoint ``step`` trained iterations (if ``save`` and not saved
        yet), and wait for the write on all ranks."""
        ckpt = self._checkpoint_hook
        path = ckpt.last_ckpt
        self.logger.warning(
            f'Preemption requested ({self.preemption.name}) {when}: ' +
            (f'saving a checkpoint at iteration {step} and stopping.'
             if save else 'stopping without training.'))
        if save:
            path = ckpt.file_backend.join_path(ckpt.out_dir,
                                               ckpt.filename_tmpl.format(step))
            if ckpt.last_ckpt != path:  # not already saved by CheckpointHook
                path = self.save_checkpoint_at(step)
        barrier()  # nobody exits (and gets the job killed) before the write
        self._preempted_at, self._preempted_ckpt = step, path
