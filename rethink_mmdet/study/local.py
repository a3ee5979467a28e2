"""Running a study's runs on this machine: one after another, or up to
``jobs`` at a time (``tools/study.py --jobs N``), each run as soon as the
runs it depends on (its teacher run, the run it is initialised from) have
finished. Each attempt records the child's CPU time (``cpu_s``: user +
system of the process tree), the report's measure of cost on a machine
shared with other work.

Each run is a child process (``tools/train.py`` / ``tools/self_train.py``)
whose output goes to ``<work_dir>/study_run.log``. With ``jobs > 1`` every
child gets ``OMP_NUM_THREADS`` = cores / jobs (unless the environment sets
it): independent arms then share the cores without oversubscribing them
(on a 2-core machine, two runs at one thread each). A run whose
dependency failed fails without starting; a failed run does not stop the
others.
"""
import os
import os.path as osp
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import IO, Callable, Dict, List, Optional

from .plan import Launcher, Run
from .state import DONE, PENDING, StudyState

__all__ = ['RUN_LOG', 'thread_env', 'run_local']

#: Each run's output (appended per attempt) in its work dir.
RUN_LOG = 'study_run.log'
LOG_TAIL = 2000
ERROR_LINE = re.compile(r'^[\w.]*(Error|Exception|Interrupt|Exit)\b')
THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')
POLL_S = 0.2


def _tail(path: str) -> str:
    if not osp.isfile(path):
        return ''
    with open(path, 'rb') as f:
        f.seek(max(0, osp.getsize(path) - LOG_TAIL))
        return f.read().decode('utf-8', 'replace')


def _last_error(text: str) -> str:
    """The exception line of a traceback (else the last line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else 'no output'


def thread_env(jobs: int, environ=None) -> Dict[str, str]:
    """Thread variables for a child when ``jobs`` runs share the cores:
    cores // jobs threads each (at least 1); nothing for ``jobs == 1`` or
    where the environment already sets the variable."""
    environ = os.environ if environ is None else environ
    if jobs <= 1:
        return {}
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    return {k: threads for k in THREAD_VARS if k not in environ}


@dataclass
class _Child:
    run: Run
    proc: subprocess.Popen
    log_file: IO[bytes]
    out: str
    t0: float
    cpu_s: Optional[float] = None

    def ended(self) -> bool:
        """Reap the child if it has exited, keeping its CPU time (user +
        system, its waited-for descendants included: the stages of
        tools/self_train.py), which on a machine shared with other jobs
        measures the run's cost better than its wall time."""
        if self.proc.returncode is not None:
            return True
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_s = usage.ru_utime + usage.ru_stime
        return True


def _start(run: Run, cmd: List[str], state: StudyState, launcher: Launcher,
           jobs: int) -> _Child:
    os.makedirs(run.work_dir, exist_ok=True)
    out = osp.join(run.work_dir, RUN_LOG)
    resumed = '--resume' in cmd or bool(state.runs[run.id]['attempts'])
    state.start(run.id, cmd, resumed, launcher.launcher, launcher.processes)
    f = open(out, 'ab')
    f.write(f'\n=== {time.ctime()}: {shlex.join(cmd)}\n'.encode())
    f.flush()
    proc = subprocess.Popen(
        cmd,
        stdout=f,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            **launcher.env(),
            **thread_env(jobs)
        })
    return _Child(run, proc, f, out, time.time())


def _finish(child: _Child, state: StudyState, log: Callable) -> None:
    child.log_file.close()
    rc = child.proc.returncode
    error = None
    if rc != 0:
        tail = _tail(child.out)
        error = (f'exited with {rc}: {_last_error(tail)} (log: {child.out})'
                 f'\n{tail}')
    state.finish(child.run.id, rc, error, cpu_s=child.cpu_s)
    word = 'done' if rc == 0 else f'FAILED (exit {rc}, log: {child.out})'
    log(f'[{child.run.id}] {word} in {time.time() - child.t0:.1f} s')


def _interrupt(children: Dict[str, _Child], state: StudyState,
               log: Callable) -> None:
    """Ctrl-C: stop the children, mark their attempts interrupted."""
    for child in children.values():
        if child.proc.poll() is None:
            child.proc.terminate()
        try:
            child.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
        child.log_file.close()
        rec = state.runs[child.run.id]
        rec['attempts'][-1].update(end=time.time(), rc=None, interrupted=True)
        rec['status'] = PENDING
        log(f'[{child.run.id}] interrupted: rerun the study to resume it')
    state.save()


def run_local(runs: List[Run],
              state: StudyState,
              launcher: Launcher,
              command: Callable[[Run], List[str]],
              problem: Callable[[Run], Optional[str]],
              log: Callable,
              jobs: int = 1) -> None:
    """Run ``runs`` (in dependency order) here, up to ``jobs`` at a time.

    Args:
        runs (list[Run]): The runs to run, every run after its
            dependencies.
        state (StudyState): Updated as runs start and end.
        launcher (Launcher): How each run starts.
        command (callable): ``run -> argv`` at the moment it starts (resume
            flag, teacher checkpoint).
        problem (callable): ``run -> why it cannot start`` (a dependency
            that did not finish), or None.
        log (callable): Progress lines.
        jobs (int): Runs at a time. Defaults to 1.
    """
    waiting = list(runs)
    children: Dict[str, _Child] = {}
    try:
        while waiting or children:
            for run in list(waiting):
                if len(children) >= jobs:
                    break
                later = {r.id for r in waiting} | set(children)
                if any(d in later for d in run.depends):
                    continue  # a dependency has not finished yet
                waiting.remove(run)
                why = problem(run)
                if why:
                    log(f'[{run.id}] FAILED: {why}')
                    state.fail(run.id, why)
                    continue
                cmd = command(run)
                log(f'[{run.id}] ' + shlex.join(cmd))
                state.runs[run.id]['fingerprint'] = run.fingerprint
                children[run.id] = _start(run, cmd, state, launcher, jobs)
            ended = [c for c in children.values() if c.ended()]
            for child in ended:
                del children[child.run.id]
                _finish(child, state, log)
            if children and not ended:
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        _interrupt(children, state, log)
        raise


def dependency_problem(run: Run, state: StudyState) -> Optional[str]:
    """Why a local run cannot start: a dependency that is not done, or an
    init checkpoint that is not there."""
    for dep in run.depends:
        status = state.runs[dep]['status']
        if status != DONE:
            return (f'run {dep}, which it needs, is {status}: rerun the '
                    'study once it has finished')
    if run.init_checkpoint and not osp.isfile(run.init_checkpoint):
        return (f'init checkpoint {run.init_checkpoint} of run '
                f'{run.init_run} does not exist: rerun that run (remove its '
                'work dir)')
    return None
