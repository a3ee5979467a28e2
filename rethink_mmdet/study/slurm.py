"""Talking to SLURM: submit a run's ``sbatch`` and ask where its job is
(``squeue`` while it is queued or running, ``sacct`` after it ended, when
the cluster keeps accounting). Every call tolerates a missing or failing
command: the caller then falls back to the run's work dir."""
import getpass
import shutil
import subprocess
from typing import Dict, List, Optional

from .state import DONE, FAILED, PENDING, RUNNING

__all__ = ['SlurmError', 'submit', 'job_states', 'slurm_status']

#: SLURM job states -> study status.
STATE_MAP = {
    'PENDING': PENDING,
    'CONFIGURING': PENDING,
    'REQUEUED': PENDING,
    'REQUEUE_HOLD': PENDING,
    'REQUEUE_FED': PENDING,
    'RESV_DEL_HOLD': PENDING,
    'SUSPENDED': PENDING,
    'PREEMPTED': PENDING,
    'RUNNING': RUNNING,
    'COMPLETING': RUNNING,
    'STAGE_OUT': RUNNING,
    'SIGNALING': RUNNING,
    'RESIZING': RUNNING,
    'COMPLETED': DONE,
    'FAILED': FAILED,
    'CANCELLED': FAILED,
    'TIMEOUT': FAILED,
    'NODE_FAIL': FAILED,
    'OUT_OF_MEMORY': FAILED,
    'BOOT_FAIL': FAILED,
    'DEADLINE': FAILED,
    'REVOKED': FAILED
}


class SlurmError(RuntimeError):
    """``sbatch`` refused a job."""


def submit(command: List[str], env: Dict[str, str], cwd: str) -> str:
    """Run an ``sbatch --parsable`` command; returns the job id."""
    if shutil.which(command[0]) is None:
        raise SlurmError(f'{command[0]} not found: --launcher slurm needs '
                         'the SLURM client tools on this machine.')
    proc = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SlurmError(f'{" ".join(command[:6])}... exited '
                         f'{proc.returncode}: {proc.stderr.strip()}')
    return proc.stdout.strip().split(';')[0]


def _query(cmd: List[str]) -> Optional[List[List[str]]]:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return [line.split('|') for line in proc.stdout.splitlines() if line]


def _seconds(text: str) -> Optional[int]:
    """Seconds of SLURM's ``[days-][hours:]minutes:seconds``."""
    try:
        days, _, rest = text.rpartition('-')
        parts = [int(p) for p in rest.split(':')]
    except ValueError:
        return None
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts[-3:]
    return (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s


def job_states(job_ids: List[str]) -> Dict[str, dict]:
    """``{job_id: {'state': SLURM state, 'elapsed': seconds or None,
    'source': 'squeue' | 'sacct'}}`` for the jobs SLURM still knows about
    (``squeue --states=all`` keeps ended jobs for ``MinJobAge``)."""
    ids = [j for j in job_ids if j]
    out: Dict[str, dict] = {}
    if not ids:
        return out
    # all of this user's jobs: `-j` with one id SLURM forgot fails whole
    rows = _query([
        'squeue', '-h', '--states=all', '-u',
        getpass.getuser(), '-o', '%i|%T|%M'
    ])
    for row in rows or []:
        if len(row) >= 3 and row[0] in ids:
            out[row[0]] = dict(
                state=row[1], elapsed=_seconds(row[2]), source='squeue')
    rest = [j for j in ids if j not in out]
    if rest:
        rows = _query([
            'sacct', '-n', '-P', '-X', '-j', ','.join(rest), '-o',
            'JobID,State,ElapsedRaw'
        ])
        for row in rows or []:
            if len(row) >= 3 and row[0] in rest:
                elapsed = int(row[2]) if row[2].isdigit() else None
                out[row[0]] = dict(
                    state=row[1].split()[0], elapsed=elapsed, source='sacct')
    return out


def slurm_status(info: Optional[dict]) -> Optional[str]:
    """The study status of a job's SLURM state (None: unknown)."""
    if not info:
        return None
    return STATE_MAP.get(info['state'].rstrip('+'))
