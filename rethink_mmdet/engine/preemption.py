"""Preemptible long runs: checkpoint on SIGTERM/SIGUSR1, exit, auto-resume.

He et al. 2019 train detectors from scratch on schedules up to 6x-9x
(540k-810k iterations at batch 16): days of cluster time, on clusters that
preempt jobs or end them at a time limit, warning them with a signal shortly
before ``SIGKILL``. :class:`PreemptionCheckpointHook` turns that warning into
a checkpoint at the current iteration and a clean exit with
:data:`PREEMPTED_EXIT_CODE`; restarting the same command resumes from it.

Config (two lines; ``RNGStateHook`` makes the resumed run continue the exact
random streams, see :mod:`rethink_mmdet.engine.rng_state`)::

    resume = True  # resume from work_dir/last_checkpoint if it exists
    custom_hooks = [
        dict(type='PreemptionCheckpointHook'),
        dict(type='RNGStateHook'),
    ]

``resume = True`` with no ``load_from`` makes mmengine resume from
``work_dir/last_checkpoint`` when it exists and start from scratch when it
does not, so one command serves the first start and every restart. (With
``load_from`` also set, mmengine resumes from ``load_from`` instead: give
pretrained weights through the model's ``init_cfg``.) The checkpoints are
those of the ``CheckpointHook``, which must count iterations
(``default_hooks.checkpoint.by_epoch=False``; mmdet's default runtime counts
epochs). The optimizer, the LR schedule, the iteration (hence the sampler
position: mmengine's ``IterBasedTrainLoop`` replays the trained batches
through the dataloader, which costs data-loading time at each restart) and
the message hub's counters are in every mmengine checkpoint; the random
states are added by ``RNGStateHook``.

Exit code and SLURM: a preempted process exits with :data:`PREEMPTED_EXIT_CODE`
(75, ``EX_TEMPFAIL`` of ``sysexits.h``: "temporary failure, retry later"),
after all ranks stopped at the same iteration and rank 0 wrote the
checkpoint. Re-run while the exit code is 75, e.g. in the batch script::

    #SBATCH --signal=USR1@120   # SIGUSR1 to all tasks 120 s before the end
    #SBATCH --requeue
    srun python tools/train.py CONFIG --launcher slurm
    if [ $? -eq 75 ]; then scontrol requeue "$SLURM_JOB_ID"; fi

or a loop ``until python tools/train.py CONFIG; [ $? -ne 75 ]; do :; done``.
``srun`` exits with the highest task exit code, or 128 + the signal number
of a task killed by a signal. With ``--kill-on-bad-exit=1`` (which
``tools/slurm_launch.sh`` passes) the first rank to exit with 75 makes srun
terminate the others; they ignore SIGTERM by then (see
:meth:`PreemptionCheckpointHook.after_run`) and normally exit with 75 as
well, but one still running when srun's ``KillWait`` ends is killed and
srun then exits with 137: the checkpoint is written before any rank exits,
so a requeue on 75 or 137 resumes correctly. Under ``torchrun``
(``tools/dist_train.sh``) every worker exits with 75 but torchrun itself
exits with 1 and lists the workers' exit codes; it forwards SIGTERM (and
SIGUSR1 only if ``TORCHELASTIC_SIGNALS_TO_HANDLE`` includes it) to the
workers and kills them 30 s later. The time to finish the current iteration
and write the checkpoint must fit in the warning time.

Dataloader workers: SLURM signals every process of a job step and torchrun
signals each worker's process group, so dataloader workers get the signal
too, and a dead worker crashes the main process before it can checkpoint.
When the hook is built (before mmengine starts the workers in
``Runner.train``), it therefore makes dataloader workers ignore the signals
(:func:`ignore_in_dataloader_workers`; forked workers, the Linux default)
and installs its handlers, which until ``before_run`` and after ``after_run``
behave like the handlers they replaced (by default: terminate), so a test
or validation run with this hook in its config still stops on SIGTERM.

A validation due at the preempted iteration is skipped (it would not fit in
the warning time), and so is the final one if the signal comes in the last
iteration: run ``tools/test.py`` on the checkpoint.
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
from mmengine.runner import EpochBasedTrainLoop

from mmdet.registry import HOOKS
from .atomic_checkpoint import ATOMIC_BACKEND, repair_last_checkpoint
from .loops import ResumableEpochBasedTrainLoop
from .runner_state import is_training_run, save_checkpoint_now

#: Exit code of a run stopped by a preemption signal after checkpointing
#: (``EX_TEMPFAIL``): re-run the same command to resume.
PREEMPTED_EXIT_CODE = 75
#: Signals handled by default: SIGTERM (preemption, ``scancel``, time limit)
#: and SIGUSR1 (``sbatch --signal=USR1@<seconds>``).
DEFAULT_SIGNALS = ('SIGTERM', 'SIGUSR1')

#: Signals that dataloader workers ignore (filled by the hooks built).
_WORKER_IGNORED_SIGNALS: set = set()


def _in_dataloader_worker() -> bool:
    return torch.utils.data.get_worker_info() is not None


def ignore_in_dataloader_workers(signals: Sequence[signal.Signals]) -> None:
    """Make dataloader workers started from now on ignore ``signals``.

    Each PyTorch worker installs a C-level SIGTERM handler first thing
    (``torch.utils.data._utils.signal_handling._set_worker_signal_handlers``)
    that kills it unless its parent sent the signal, and the parent then
    raises "DataLoader worker ... is killed by signal". This wraps that
    function so that the worker then ignores ``signals``: the main process
    decides, and shuts its workers down when it exits. Effective for forked
    workers (the default on Linux); a no-op if torch lacks the function.

    Args:
        signals (Sequence[signal.Signals]): Signals the workers ignore.
    """
    _WORKER_IGNORED_SIGNALS.update(signals)
    module = torch.utils.data._utils.signal_handling
    original = getattr(module, '_set_worker_signal_handlers', None)
    if original is None or getattr(original, '_ignores_preemption', False):
        return

    def set_worker_signal_handlers(*args, **kwargs):
        original(*args, **kwargs)
        for sig in _WORKER_IGNORED_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)

    set_worker_signal_handlers._ignores_preemption = True
    module._set_worker_signal_handlers = set_worker_signal_handlers


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Checkpoint at the current iteration and exit when the job is being
    preempted.

    The handlers only set a flag. At the next iteration boundary the ranks
    agree (``all_reduce`` MAX of the flag every iteration, no collective in
    non-distributed runs), rank 0 saves ``iter_{n}.pth`` through the
    ``CheckpointHook`` (so ``last_checkpoint``, ``max_keep_ckpts`` and
    ``--resume`` behave as for any checkpoint), all ranks wait for the write,
    the loop stops, the remaining ``after_train``/``after_run`` hooks run and
    every rank exits with :data:`PREEMPTED_EXIT_CODE`.

    Runner events used:

    - ``before_run``: arm the handlers; check that the checkpoint hook and
      loop are iteration based; make ``CheckpointHook`` write atomically;
      point ``last_checkpoint`` at the newest complete checkpoint (rank 0,
      before mmengine reads it to resume).
    - ``before_train``: refuse to train unarmed (never silently off).
    - ``after_train_iter``: agree across ranks, checkpoint, stop the loop.
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
        if isinstance(signals, str):
            signals = (signals, )
        self.signals = []
        for name in signals:
            sig = getattr(signal, str(name), None)
            if not isinstance(sig, signal.Signals):
                raise ValueError(
                    f'PreemptionCheckpointHook: unknown signal {name!r}; use '
                    "names like 'SIGTERM', 'SIGUSR1'.")
            self.signals.append(sig)
        self.atomic_checkpoints = atomic_checkpoints
        self.repair = repair_last_checkpoint
        self._armed = False
        self._received: Optional[int] = None
        self._preempted_at: Optional[int] = None
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
                self._previous[sig] = signal.signal(sig, self._handle)

    def _restore(self) -> None:
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(
                    sig, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        if _in_dataloader_worker():
            return  # the main process decides, and shuts the workers down
        if self._armed:
            if self._received is None:
                self._received = signum
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # default action: terminate
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    # runner events ----------------------------------------------------------
    def before_run(self, runner) -> None:
        """Arm the handlers and prepare checkpointing and resuming.

        Args:
            runner (Runner): The runner.

        Raises:
            RuntimeError: If there is no ``CheckpointHook``, it counts epochs,
                or the train loop is epoch based.
        """
        if not is_training_run(runner):
            return  # a test or val run
        self._install()  # again, in case something replaced the handlers
        self._armed = True
        self._received = None
        self._preempted_at = None
        ckpt = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                    None)
        if ckpt is None:
            raise RuntimeError(
                'PreemptionCheckpointHook saves through the CheckpointHook, '
                'but the runner has none. Set default_hooks.checkpoint='
                "dict(type='CheckpointHook', by_epoch=False, interval=...).")
        if ckpt.by_epoch:
            raise RuntimeError(
                'PreemptionCheckpointHook checkpoints at an iteration, but '
                'CheckpointHook(by_epoch=True) names checkpoints by epoch. '
                'Set default_hooks.checkpoint.by_epoch=False.')
        if isinstance(runner.train_loop, EpochBasedTrainLoop) and \
                not isinstance(runner.train_loop,
                               ResumableEpochBasedTrainLoop):
            raise RuntimeError(
                "PreemptionCheckpointHook: mmengine's EpochBasedTrainLoop "
                'cannot stop or resume in the middle of an epoch. Use '
                "train_cfg=dict(type='ResumableEpochBasedTrainLoop', "
                "max_epochs=...) (or type='ResumableIterBasedTrainLoop', "
                'max_iters=...).')
        self._checkpoint_hook = ckpt
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
        if not self._armed:
            raise RuntimeError(
                'PreemptionCheckpointHook: training started but before_run '
                'did not recognise a training run (rethink_mmdet.engine.'
                'runner_state.is_training_run), so a preemption signal would '
                'not be turned into a checkpoint. This mmengine is outside '
                'the tested range; see rethink_mmdet/engine/runner_state.py.')

    def _stop_requested(self) -> bool:
        requested = self._received is not None
        if is_distributed():
            flag = torch.tensor([int(requested)], dtype=torch.int32)
            all_reduce(flag, op='max')
            requested = bool(flag.item())
        return requested

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
        if not self._armed or not self._stop_requested():
            return
        step = runner.iter + 1
        ckpt = self._checkpoint_hook
        name = signal.Signals(self._received).name \
            if self._received is not None else 'a signal on another rank'
        runner.logger.warning(
            f'Preemption requested ({name}): saving a checkpoint at '
            f'iteration {step} and stopping.')
        path = ckpt.file_backend.join_path(ckpt.out_dir,
                                           ckpt.filename_tmpl.format(step))
        if ckpt.last_ckpt != path:  # not already saved by CheckpointHook
            save_checkpoint_now(ckpt, runner)
        barrier()  # nobody exits (and gets the job killed) before the write
        self._preempted_at = step
        loop = runner.train_loop
        loop.stop_training = True
        if hasattr(loop, 'val_begin'):
            loop.val_begin = math.inf  # no validation while being preempted

    def after_run(self, runner) -> None:
        """Restore the previous handlers, or exit if the run was preempted.

        After a preemption the signals are ignored from here until the
        process has exited (``SIG_IGN``, which Python's shutdown keeps,
        unlike a Python handler): the ranks do not exit at the same instant,
        and torchrun sends SIGTERM to the remaining ones as soon as one has
        exited, which would otherwise turn their clean exit code into a kill.
        A preempted run is meant to end its process.

        Args:
            runner (Runner): The runner.

        Raises:
            SystemExit: With :data:`PREEMPTED_EXIT_CODE` after a preemption.
        """
        if self._preempted_at is None:
            self._armed = False
            self._restore()
            return
        for sig in self.signals:
            signal.signal(sig, signal.SIG_IGN)
        runner.logger.warning(
            f'Stopped at iteration {self._preempted_at} for preemption; '
            f'checkpoint: {self._checkpoint_hook.last_ckpt}. Exiting with '
            f'code {PREEMPTED_EXIT_CODE}: re-run the same command to resume.')
        raise SystemExit(PREEMPTED_EXIT_CODE)
