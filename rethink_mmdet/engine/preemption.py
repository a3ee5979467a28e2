"""The preemption signals of one training process: handlers that only
record the signal, armed while :class:`~.runner.LongRunRunner` trains.

He et al. 2019 train detectors from scratch on schedules up to 6x-9x
(540k-810k iterations at batch 16): days of cluster time, on clusters that
preempt jobs or end them at a time limit, warning them with a signal
shortly before ``SIGKILL``. :class:`PreemptionSignals` turns that warning
into a flag; the runner (:mod:`.runner`) agrees on it across ranks, writes
the checkpoint and exits with :data:`PREEMPTED_EXIT_CODE`. The exit code,
the start-up handlers and the dataloader workers' signal policy are in
:mod:`.signals`; every signal window is in ``docs/long_runs.md``.

States: *built* (a signal exits at once with 75: nothing trained yet),
*armed* (training: the signal is recorded, the runner acts on it at its
next check), *idle* (after a run, or in a val/test run: the previous
handlers act).
"""
import os
import signal
import threading
from typing import Optional, Sequence

from .signals import (DEFAULT_SIGNALS, PREEMPTED_EXIT_CODE,
                      exit_before_training, ignore_in_dataloader_workers,
                      in_dataloader_worker, parse_signals)

__all__ = [
    'PREEMPTED_EXIT_CODE', 'DEFAULT_SIGNALS', 'PreemptionSignals',
    'preemption_options'
]

BUILT, ARMED, IDLE = 'built', 'armed', 'idle'
#: ``preemption_cfg`` keys of :class:`~.runner.LongRunRunner`, defaults.
PREEMPTION_DEFAULTS = dict(
    signals=DEFAULT_SIGNALS,
    atomic_checkpoints=True,
    repair_last_checkpoint=True)


def preemption_options(preemption_cfg: dict) -> dict:
    """:data:`PREEMPTION_DEFAULTS` updated with ``preemption_cfg``.

    Raises:
        TypeError: For an unknown key, naming the known ones.
    """
    unknown = set(preemption_cfg) - set(PREEMPTION_DEFAULTS)
    if unknown:
        raise TypeError(
            f'LongRunRunner: unknown preemption_cfg keys {sorted(unknown)}; '
            f'known: {sorted(PREEMPTION_DEFAULTS)}.')
    return dict(PREEMPTION_DEFAULTS, **preemption_cfg)


class PreemptionSignals:
    """Handlers of the preemption signals of this process.

    Installed when built (in the main thread), so that a signal while the
    runner is built exits with :data:`PREEMPTED_EXIT_CODE`; dataloader
    workers started from then on ignore the signals (the main process
    decides and shuts them down).

    Args:
        signals (Sequence[str]): Names of the signals that request the
            checkpoint-and-exit. Defaults to ``('SIGTERM', 'SIGUSR1')``.

    Raises:
        RuntimeError: If built outside the main thread (Python installs
            signal handlers only there).
        ValueError: For an unknown signal name.
    """

    def __init__(self, signals: Sequence[str] = DEFAULT_SIGNALS) -> None:
        self.signals = parse_signals(signals)
        self.phase = BUILT
        #: The first signal received while armed, or None.
        self.received: Optional[int] = None
        self._previous: dict = {}
        self.install()
        ignore_in_dataloader_workers(self.signals)

    def install(self) -> None:
        """(Re)install the handlers, keeping the previous ones to restore
        (start-up handlers of :mod:`.signals` are not restored)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                'LongRunRunner must be built in the main thread: Python '
                'installs signal handlers only there. Build the Runner in '
                "the main thread, or use mmengine's plain Runner.")
        for sig in self.signals:
            if signal.getsignal(sig) != self.handle:
                previous = signal.signal(sig, self.handle)
                if getattr(previous, 'startup', False) or previous is None:
                    previous = signal.SIG_DFL  # start-up only, see signals
                self._previous[sig] = previous

    def arm(self) -> None:
        """Record signals from now on (training starts)."""
        self.install()  # again, in case something replaced the handlers
        self.phase = ARMED
        self.received = None

    def disarm(self) -> None:
        """Put the previous handlers back (a run ended, not preempted, or a
        val/test run)."""
        self.phase = IDLE
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self.handle:
                signal.signal(sig, previous)
        self._previous = {}

    def ignore_until_exit(self) -> None:
        """After a preemption: ignore the signals until the process exits
        (``SIG_IGN``, which Python's shutdown keeps): the ranks do not exit
        at the same instant, and torchrun sends SIGTERM to the remaining
        ones as soon as one has exited."""
        self.phase = IDLE
        for sig in self.signals:
            signal.signal(sig, signal.SIG_IGN)

    @property
    def requested(self) -> bool:
        """Whether a signal came while armed (this rank only)."""
        return self.received is not None

    @property
    def name(self) -> str:
        """The received signal's name, for the log."""
        if self.received is None:
            return 'a signal on another rank'
        return signal.Signals(self.received).name

    def handle(self, signum: int, frame) -> None:
        """The handler: record while armed, exit with 75 while built, else
        the previous handler's action."""
        if in_dataloader_worker():
            return  # the main process decides, and shuts the workers down
        if self.phase == ARMED:
            if self.received is None:
                self.received = signum
            return  # a second signal: the first one is being handled
        if self.phase == BUILT:
            exit_before_training(signum, self.signals)
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # default action: terminate
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
