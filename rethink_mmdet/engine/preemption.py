"""Preemptible long runs: checkpoint on SIGTERM/SIGUSR1, exit, auto-resume.

He et al. 2019 train detectors from scratch on schedules up to 6x-9x
(540k-810k iterations at batch 16): days of cluster time, on clusters that
preempt jobs or end them at a time limit, warning them with a signal shortly
before ``SIGKILL``. :class:`PreemptionCheckpointHook` turns that warning into
a checkpoint at the current iteration and a clean exit with
:data:`PREEMPTED_EXIT_CODE`; restarting the same command resumes from it.

Config (``RNGStateHook`` makes the resumed run continue every rank's random
streams, see :mod:`rethink_mmdet.engine.rng_state`)::

    resume = True  # resume from work_dir/last_checkpoint if it exists
    train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=...)
    custom_hooks = [
        dict(type='PreemptionCheckpointHook'),
        dict(type='RNGStateHook'),
    ]

``resume = True`` with no ``load_from`` resumes from
``work_dir/last_checkpoint`` when it exists and starts from scratch when it
does not, so one command serves the first start and every restart. The
checkpoints are written through the runner's ``CheckpointHook`` (any
subclass of it), which must count iterations; epoch-based configs need
``ResumableEpochBasedTrainLoop`` (:mod:`.preemption_checks`). The exit
code, the start-up handlers and the dataloader workers' signal policy are
in :mod:`.signals`.

No signal is lost, whenever it comes (from the imports of
``tools/train.py`` to the exit): every window and what happens in it is in
``docs/long_runs.md``, each tested (``tests/engine/test_signal_windows.py``,
``test_preemption.py``).

In distributed runs the ranks agree before acting (an ``all_reduce`` MAX of
the flag after every train iteration, before the first one and after every
validation batch), so they all stop at the same point, rank 0 writes the
checkpoint, all wait for it, then all exit. After a preemption the signals
are ignored until the process ends: torchrun sends SIGTERM to the remaining
workers as soon as one has exited, which would otherwise turn their clean
exit code into a kill. Re-run while the exit code is 75 (e.g.
``tools/slurm_train.sbatch`` requeues the job; under ``torchrun`` the
workers exit with 75 and torchrun itself with 1, listing them).

A validation stopped by a signal is not repeated on resume; if it was the
final one, run ``tools/test.py`` on the checkpoint.
"""
import math
import os
import os.path as osp
import signal
import threading
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, is_distributed, is_main_process
from mmengine.hooks import CheckpointHook, Hook

from mmdet.registry import HOOKS
from .atomic_checkpoint import ATOMIC_BACKEND, repair_last_checkpoint
from .images_seen import ImagesSeenHook, synchronize_counts
from .preemption_checks import preemptible_checkpoint_hook
from .runner_state import is_training_run, save_checkpoint_at
from .signals import (DEFAULT_SIGNALS, PREEMPTED_EXIT_CODE,
                      exit_before_training, ignore_in_dataloader_workers,
                      in_dataloader_worker, parse_signals)

__all__ = [
    'PREEMPTED_EXIT_CODE', 'DEFAULT_SIGNALS', 'PreemptionCheckpointHook'
]

_BUILT, _ARMED, _IDLE = 'built', 'armed', 'idle'


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Checkpoint at the current iteration and exit when the job is being
    preempted (see the module docstring for every signal window).

    The handlers only set a flag. At the next check (after each train
    iteration, before the first one, after each validation batch) the
    ranks agree, rank 0 saves the checkpoint through the ``CheckpointHook``
    (so ``last_checkpoint``, ``max_keep_ckpts`` and ``--resume`` behave as
    for any checkpoint), all ranks wait for the write, the run ends and
    every rank exits with :data:`PREEMPTED_EXIT_CODE`.

    Runner events used:

    - ``before_run``: arm the handlers; check the checkpoint hook and loop;
      make ``CheckpointHook`` write atomically; point ``last_checkpoint``
      at the newest complete checkpoint (rank 0, before mmengine reads it).
    - ``before_train``: refuse to train unarmed (never silently off).
    - ``before_train_iter`` (first iteration only): exit without training
      if a signal came during start-up.
    - ``after_train_iter``: agree across ranks, checkpoint, stop the loop.
    - ``before_val_epoch`` / ``after_val_iter``: stop a validation inside
      training at the next batch, checkpoint and exit.
    - ``after_run``: restore the previous handlers, or exit if preempted.

    Args:
        signals (Sequence[str]): Names of the signals that request the
            checkpoint-and-exit. Defaults to ``('SIGTERM', 'SIGUSR1')``.
        atomic_checkpoints (bool): Make the ``CheckpointHook`` write with the
            ``'atomic_local'`` backend (see
            :mod:`rethink_mmdet.engine.atomic_checkpoint`) when it writes to a
            local directory with default ``backend_args``. Defaults to True.
        repair_last_checkpoint (bool): Before resuming, make
            ``work_dir/last_checkpoint`` name the newest complete checkpoint
            and remove temporary files of killed writes. Defaults to True.

    Raises:
        RuntimeError: If built outside the main thread (signal handlers can
            only be installed there).
    """

    priority = 'LOWEST'  # after CheckpointHook, to reuse its checkpoint

    def __init__(self,
                 signals: Sequence[str] = DEFAULT_SIGNALS,
                 atomic_checkpoints: bool = True,
                 repair_last_checkpoint: bool = True) -> None:
        self.signals = parse_signals(signals)
        self.atomic_checkpoints = atomic_checkpoints
        self.repair = repair_last_checkpoint
        self._phase = _BUILT
        self._received: Optional[int] = None
        self._preempted_at: Optional[int] = None
        self._preempted_ckpt: Optional[str] = None
        self._first_iter = True
        self._val_checks = 0
        self._agreed = None  # (iteration, stop) from ImagesSeenHook
        self._checkpoint_hook: Optional[CheckpointHook] = None
        self._previous: dict = {}
        self._install()
        ignore_in_dataloader_workers(self.signals)

    # signal handling ------------------------------------------------------
    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                'PreemptionCheckpointHook must be built in the main thread: '
                'Python installs signal handlers only there. Build the '
                'Runner in the main thread, or remove the hook.')
        for sig in self.signals:
            if signal.getsignal(sig) != self._handle:
                previous = signal.signal(sig, self._handle)
                if getattr(previous, 'startup', False) or previous is None:
                    previous = signal.SIG_DFL  # start-up only, see above
                self._previous[sig] = previous

    def _restore(self) -> None:
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if in_dataloader_worker():
            return  # the main process decides, and shuts the workers down
        if self._phase == _ARMED:
            if self._received is None:
                self._received = signum
            return  # a second signal: the first one is being handled
        if self._phase == _BUILT:
            exit_before_training(signum, self.signals)
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # default action: terminate
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    # the stop flag riding on ImagesSeenHook's all-reduce (add_rider) -------
    def local_value(self) -> int:
        """This rank's stop flag (1 once a signal came), for the
        all-reduce of :class:`~.images_seen.ImagesSeenHook`."""
        return int(self._received is not None)

    def agreed(self, total: int, iteration: int) -> None:
        """The ranks' flags summed by that all-reduce after ``iteration``
        trained iterations: :meth:`after_train_iter` of that iteration uses
        it instead of an all-reduce of its own."""
        self._agreed = (iteration, total > 0)

    def _stop_requested(self, iteration: Optional[int] = None) -> bool:
        """Whether any rank got a signal: the agreement the flag rode in
        after ``iteration`` if there is one (ImagesSeenHook summed its
        counts at this iteration, on every rank alike), else one all-reduce
        of its own. A signal that arrives between the two hooks is acted on
        one iteration later."""
        agreed, self._agreed = self._agreed, None
        if iteration is not None and agreed and agreed[0] == iteration:
            return agreed[1]  # the same on every rank
        requested = self._received is not None
        if is_distributed():
            flag = torch.tensor([int(requested)], dtype=torch.int32)
            all_reduce(flag, op='max')
            requested = bool(flag.item())
        return requested

    # runner events ----------------------------------------------------------
    def before_run(self, runner) -> None:
        """Arm the handlers and prepare checkpointing and resuming.

        Args:
            runner (Runner): The runner.

        Raises:
            RuntimeError: If there is no ``CheckpointHook``, it counts epochs,
                or the train loop is mmengine's ``EpochBasedTrainLoop``.
        """
        if not is_training_run(runner):
            self._phase = _IDLE  # a test or val run: signals as before
            return
        ckpt = preemptible_checkpoint_hook(runner)
        self._install()  # again, in case something replaced the handlers
        self._phase = _ARMED
        self._received = self._preempted_at = None
        self._first_iter = True
        self._checkpoint_hook = ckpt
        self._agreed = None
        if is_distributed():  # one collective per iteration, not two
            for hook in runner.hooks:
                if isinstance(hook, ImagesSeenHook):
                    hook.add_rider(self)
        local = ckpt.out_dir is None or '://' not in str(ckpt.out_dir)
        if self.atomic_checkpoints and local and ckpt.backend_args is None \
                and ckpt.file_client_args is None:
            ckpt.backend_args = dict(backend=ATOMIC_BACKEND)
        if self.repair and local:
            if is_main_process():
                out_dir = ckpt.out_dir or runner.work_dir
                if out_dir != runner.work_dir:  # CheckpointHook's rule
                    out_dir = osp.join(
                        out_dir, osp.basename(runner.work_dir.rstrip(osp.sep)))
                repair_last_checkpoint(runner.work_dir, [out_dir],
                                       ckpt.filename_tmpl)
            barrier()  # the other ranks read last_checkpoint after this

    def before_train(self, runner) -> None:
        """Refuse to train unarmed: :meth:`before_run` must have recognised
        the training run (the hook never switches itself off silently).

        Args:
            runner (Runner): The runner.

        Raises:
            RuntimeError: If the handlers were not armed.
        """
        if self._phase != _ARMED:
            raise RuntimeError(
                'PreemptionCheckpointHook: training started but before_run '
                'did not recognise a training run (rethink_mmdet.engine.'
                'runner_state.is_training_run), so a preemption signal would '
                'not be turned into a checkpoint. This mmengine is outside '
                'the tested range; see rethink_mmdet/engine/runner_state.py.')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        """Before this process's first iteration: exit without training if
        a signal came while the run started (loading, resuming).

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict or tuple or list, optional): The batch.
        """
        if self._phase != _ARMED or not self._first_iter:
            return
        self._first_iter = False
        if self._stop_requested():
            self._stop(
                runner,
                runner.iter,
                'before the first iteration',
                save=False,
                end_run=True)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Checkpoint and stop the loop if any rank got a signal.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict or tuple or list, optional): The batch.
            outputs (dict, optional): Outputs of the model.
        """
        if self._phase != _ARMED or not self._stop_requested(runner.iter + 1):
            return
        self._stop(
            runner,
            runner.iter + 1,
            'at the end of an iteration',
            save=True,
            end_run=False)
        loop = runner.train_loop
        loop.stop_training = True
        if hasattr(loop, 'val_begin'):
            loop.val_begin = math.inf  # no validation while being preempted

    def before_val_epoch(self, runner) -> None:
        """Count the validation batches every rank runs (the flag is checked
        after each of them; the ranks must agree at the same batches).

        Args:
            runner (Runner): The runner.
        """
        self._val_checks = 0
        self._agreed = None  # (iteration, stop) from ImagesSeenHook
        if self._phase != _ARMED:
            return  # not a validation inside training
        try:
            checks = len(runner.val_loop.dataloader)
        except (AttributeError, TypeError):
            checks = 0
        if is_distributed():
            count = torch.tensor([checks], dtype=torch.int64)
            all_reduce(count, op='min')
            checks = int(count.item())
        self._val_checks = checks

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch=None,
                       outputs=None) -> None:
        """Stop a validation inside training if any rank got a signal:
        checkpoint the trained iteration and end the run.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the validation loop.
            data_batch (dict or tuple or list, optional): The batch.
            outputs (Sequence, optional): Outputs of the model.
        """
        if self._phase == _ARMED and batch_idx < self._val_checks \
                and self._stop_requested():
            self._stop(
                runner,
                runner.iter,
                'during validation',
                save=True,
                end_run=True)

    def _stop(self, runner, step: int, when: str, save: bool,
              end_run: bool) -> None:
        """Checkpoint ``step`` trained iterations (if ``save`` and not
        saved yet), wait for the write on all ranks, and with ``end_run``
        end the run from here (``after_train`` and ``after_run`` hooks,
        then exit): outside ``after_train_iter`` no loop can be stopped."""
        name = signal.Signals(self._received).name \
            if self._received is not None else 'a signal on another rank'
        ckpt = self._checkpoint_hook
        path = ckpt.last_ckpt
        runner.logger.warning(f'Preemption requested ({name}) {when}: ' + (
            f'saving a checkpoint at iteration {step} and stopping.'
            if save else 'stopping without training.'))
        if save:
            path = ckpt.file_backend.join_path(ckpt.out_dir,
                                               ckpt.filename_tmpl.format(step))
            if ckpt.last_ckpt != path:  # not already saved by CheckpointHook
                synchronize_counts(runner)  # collective, all ranks
                save_checkpoint_at(ckpt, runner, step)
        barrier()  # nobody exits (and gets the job killed) before the write
        self._preempted_at, self._preempted_ckpt = step, path
        if end_run:
            runner.call_hook('after_train')
            runner.call_hook('after_run')  # raises SystemExit (after_run)
            raise SystemExit(PREEMPTED_EXIT_CODE)

    def after_run(self, runner) -> None:
        """Restore the previous handlers, or exit if the run was preempted.

        After a preemption the signals are ignored from here until the
        process has exited (``SIG_IGN``, which Python's shutdown keeps,
        unlike a Python handler): the ranks do not exit at the same instant,
        and torchrun sends SIGTERM to the remaining ones as soon as one has
        exited. A preempted run is meant to end its process.

        Args:
            runner (Runner): The runner.

        Raises:
            SystemExit: With :data:`PREEMPTED_EXIT_CODE` after a preemption.
        """
        if self._preempted_at is None:
            self._phase = _IDLE
            self._restore()
            return
        for sig in self.signals:
            signal.signal(sig, signal.SIG_IGN)
        runner.logger.warning(
            f'Stopped at iteration {self._preempted_at} for preemption; '
            f'checkpoint: {self._preempted_ckpt}. Exiting with code '
            f'{PREEMPTED_EXIT_CODE}: re-run the same command to resume.')
        raise SystemExit(PREEMPTED_EXIT_CODE)
