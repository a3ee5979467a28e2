"""Process-level signal handling for preemptible runs: the exit code, the
signals handled, start-up handlers and dataloader workers.

:class:`~.runner.LongRunRunner` turns a preemption signal
into a checkpoint once a run has started; this module covers what comes
before and around it: a signal while ``tools/train.py`` builds the runner
exits at once with :data:`PREEMPTED_EXIT_CODE` (nothing was trained,
:func:`install_startup_handlers`), and dataloader workers ignore the
signals so that the main process decides
(:func:`ignore_in_dataloader_workers`). See :mod:`.preemption` for every
signal window.
"""
import os
import signal
import sys
import threading
from typing import Sequence

import torch

__all__ = [
    'PREEMPTED_EXIT_CODE', 'DEFAULT_SIGNALS', 'parse_signals',
    'exit_before_training', 'install_startup_handlers', 'replay_held_signals',
    'ignore_in_dataloader_workers', 'in_dataloader_worker'
]

#: Exit code of a run stopped by a preemption signal (``EX_TEMPFAIL`` of
#: ``sysexits.h``, "temporary failure"): re-run the same command to resume.
PREEMPTED_EXIT_CODE = 75
#: Signals handled by default: SIGTERM (preemption, ``scancel``, time limit)
#: and SIGUSR1 (``sbatch --signal=USR1@<seconds>``).
DEFAULT_SIGNALS = ('SIGTERM', 'SIGUSR1')

#: Signals that dataloader workers ignore (filled by the hooks built).
_WORKER_IGNORED_SIGNALS: set = set()


def in_dataloader_worker() -> bool:
    return torch.utils.data.get_worker_info() is not None


def parse_signals(names: Sequence[str]) -> list:
    """``signal.Signals`` for names like ``'SIGTERM'``.

    Raises:
        ValueError: For an unknown name.
    """
    if isinstance(names, str):
        names = (names, )
    found = []
    for name in names:
        sig = getattr(signal, str(name), None)
        if not isinstance(sig, signal.Signals):
            raise ValueError(
                f'LongRunRunner: unknown preemption signal {name!r}; use '
                "names like 'SIGTERM', 'SIGUSR1'.")
        found.append(sig)
    return found


def exit_before_training(signum: int, signals: Sequence[int] = ()) -> None:
    """Exit with :data:`PREEMPTED_EXIT_CODE` for a preemption signal that
    came before training started (nothing to save): ignore ``signals`` from
    here on (a second one must not interrupt the exit) and raise
    ``SystemExit``, so ``finally`` blocks and ``atexit`` handlers run.

    Args:
        signum (int): The signal received.
        signals (Sequence[int]): The signals to ignore from now on.
            Defaults to ``(signum,)``.

    Raises:
        SystemExit: Always, with :data:`PREEMPTED_EXIT_CODE`.
    """
    for sig in set(signals) | {signum}:
        signal.signal(sig, signal.SIG_IGN)
    sys.stderr.write(
        f'{signal.Signals(signum).name} before training started: nothing to '
        f'checkpoint, exiting with code {PREEMPTED_EXIT_CODE} (re-run the '
        'same command to start or resume).\n')
    sys.stderr.flush()
    raise SystemExit(PREEMPTED_EXIT_CODE)


def _startup_handler(signum: int, frame) -> None:
    if not in_dataloader_worker():
        exit_before_training(signum)


_startup_handler.startup = True


def install_startup_handlers(signals: Sequence[str] = DEFAULT_SIGNALS):
    """Make ``signals`` exit with :data:`PREEMPTED_EXIT_CODE` until a
    :class:`~.runner.LongRunRunner` is built (``launch.load_config`` does
    this for configs with ``runner_type='mmdet.LongRunRunner'``, so a signal
    while the runner is built is not a kill). The runner never restores
    these handlers: after a run, the signals' default action (terminate)
    applies.

    Args:
        signals (Sequence[str]): Signal names. Defaults to
            ``('SIGTERM', 'SIGUSR1')``.
    """
    if threading.current_thread() is threading.main_thread():
        for sig in parse_signals(signals):
            signal.signal(sig, _startup_handler)


def replay_held_signals(held: Sequence[int], holder) -> None:
    """Act on the preemption signals a tool held during its imports,
    once its config is loaded (``tools/train.py``: the imports take seconds,
    before anything knows whether the run is preemptible).

    Every signal whose handler is still ``holder`` gets its default action
    back. Then, if a signal was held: a preemptible config (the start-up
    handler of :func:`install_startup_handlers` is installed for it) exits
    with :data:`PREEMPTED_EXIT_CODE`, nothing trained; otherwise the signal
    is sent again, and its default action (terminate: exit 143 for
    SIGTERM) happens as it would have without the holder.

    Args:
        held (Sequence[int]): The signals received, in order.
        holder (callable): The handler that held them.
    """
    for sig in parse_signals(DEFAULT_SIGNALS) + list(held):
        if signal.getsignal(sig) is holder:
            signal.signal(sig, signal.SIG_DFL)
    if not held:
        return
    signum = held[0]
    if getattr(signal.getsignal(signum), 'startup', False):
        exit_before_training(signum)
    os.kill(os.getpid(), signum)


def ignore_in_dataloader_workers(signals: Sequence[signal.Signals]) -> None:
    """Make dataloader workers started from now on ignore ``signals``.

    Each PyTorch worker installs a C-level SIGTERM handler first thing
    (``torch.utils.data._utils.signal_handling._set_worker_signal_handlers``)
    that kills it unless its parent sent the signal, and the parent then
    raises "DataLoader worker ... is killed by signal". This wraps that
    function so that the worker then ignores ``signals``: the main process
    decides, and shuts its workers down when it exits. It is private torch
    API (listed in ``runner_state.PRIVATE_MMENGINE_API``) because a public
    ``worker_init_fn`` cannot be set before mmengine's ``IterBasedTrainLoop``
    starts its workers (when the loop is built, before any hook runs) and
    would replace mmengine's per-worker seeding. A no-op if torch lacks it.

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
