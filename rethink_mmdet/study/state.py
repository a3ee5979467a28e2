"""The state of a study on disk: ``DIR/study.json``, written atomically
after every change, so that an interrupted study (the runner killed, the
machine rebooted) resumes from what it says and ``tools/study.py status``
can be asked at any time.

One record per run::

    {"id": "lr0.01_seed0", "arm": "lr0.01", "seed": 0, "kind": "train",
     "work_dir": ..., "config": ..., "length": {"max_iters": 4},
     "status": "done", "launcher": "none", "processes": 1,
     "command": [...], "attempts": [{"start": t0, "end": t1, "rc": 0,
     "resumed": false, "launcher": "none", "processes": 1}],
     "job_id": null, "error": null}

The plan part (config, work dir, length) is refreshed from the study config
at every invocation; the history (status, attempts, launcher, job) is
kept.

``status`` is one of :data:`STATUSES`. Times are POSIX seconds; the wall
time of a run is the sum of its attempts (a resumed run's segments).
"""
import json
import os
import os.path as osp
import socket
import time
from typing import Dict, List, Optional

from rethink_mmdet.utils import dump_json

__all__ = [
    'STATE_FILE', 'STUDY_COPY', 'PENDING', 'RUNNING', 'DONE', 'FAILED',
    'STATUSES', 'StudyState', 'cpu_seconds', 'device_seconds',
    'last_checkpoint', 'pid_alive', 'training_finished', 'wall_time'
]

STATE_FILE = 'study.json'
STUDY_COPY = 'study_config.py'
PENDING, RUNNING, DONE, FAILED = 'pending', 'running', 'done', 'failed'
STATUSES = (PENDING, RUNNING, DONE, FAILED)
ROUNDS_FILE = 'rounds.json'  # tools/self_train.py's record


def pid_alive(pid: Optional[int], host: Optional[str]) -> bool:
    """Whether process ``pid`` of this host still runs."""
    if not pid or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The path in mmengine's ``work_dir/last_checkpoint``, or None."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip() or None


def training_finished(record: dict) -> bool:
    """Whether a run's work dir holds a finished training: the final
    checkpoint (``iter_{max_iters}.pth`` / ``epoch_{max_epochs}.pth``) for a
    training run, ``rounds.json`` with every round for self-training."""
    work_dir = record['work_dir']
    if record['kind'] == 'self_train':
        path = osp.join(work_dir, ROUNDS_FILE)
        if not osp.isfile(path):
            return False
        with open(path) as f:
            return len(json.load(f)) >= int(record.get('rounds', 1))
    ckpt = last_checkpoint(work_dir)
    length = record.get('length') or {}
    if ckpt is None or not length:
        return False
    name = osp.basename(ckpt)
    return name in (f'iter_{length.get("max_iters")}.pth',
                    f'epoch_{length.get("max_epochs")}.pth')


def _spans(record: dict) -> List[tuple]:
    return [(a['end'] - a['start'], int(a.get('processes', 1)))
            for a in record.get('attempts', [])
            if a.get('end') is not None and a.get('start') is not None]


def wall_time(record: dict) -> Optional[float]:
    """Seconds of all ended attempts of a run (None if none ended)."""
    spans = _spans(record)
    return float(sum(s for s, _ in spans)) if spans else None


def cpu_seconds(record: dict) -> Optional[float]:
    """CPU seconds (user + system) summed over the attempts that measured
    them (local runs), None if none did."""
    cpu = [a['cpu_s'] for a in record.get('attempts', []) if 'cpu_s' in a]
    return float(sum(cpu)) if cpu else None


def device_seconds(record: dict) -> Optional[float]:
    """Processes x seconds summed over the ended attempts of a run."""
    spans = _spans(record)
    return float(sum(s * p for s, p in spans)) if spans else None


class StudyState:
    """``DIR/study.json``: read, change, write atomically.

    Args:
        study_dir (str): The study directory.
    """

    def __init__(self, study_dir: str):
        self.study_dir = osp.abspath(study_dir)
        self.path = osp.join(self.study_dir, STATE_FILE)
        self.data = {'study': None, 'runs': {}, 'order': []}
        if osp.isfile(self.path):
            with open(self.path) as f:
                self.data = json.load(f)

    @property
    def exists(self) -> bool:
        return osp.isfile(self.path)

    @property
    def runs(self) -> Dict[str, dict]:
        return self.data['runs']

    def ordered(self) -> List[dict]:
        """The run records in run order."""
        return [self.runs[i] for i in self.data['order'] if i in self.runs]

    def save(self) -> None:
        self.data['updated'] = time.time()
        dump_json(self.data, self.path, canonical=False)

    def upsert(self, record: dict) -> dict:
        """Add a run, or refresh a known run's plan (keeping its history:
        status, attempts, job id, command...)."""
        old = self.runs.get(record['id'])
        if old is not None:
            record = {**old, **record}
        else:
            record = {
                'status': PENDING,
                'attempts': [],
                'job_id': None,
                'error': None,
                **record
            }
        self.runs[record['id']] = record
        if record['id'] not in self.data['order']:
            self.data['order'].append(record['id'])
        return record

    def start(self, run_id: str, command: List[str], resumed: bool,
              launcher: str, processes: int) -> None:
        """Record that a run started here (a child of this process)."""
        rec = self.runs[run_id]
        rec.update(
            status=RUNNING,
            command=command,
            error=None,
            job_id=None,
            host=socket.gethostname(),
            pid=os.getpid(),
            launcher=launcher,
            processes=processes)
        rec['attempts'].append({
            'start': time.time(),
            'end': None,
            'rc': None,
            'resumed': resumed,
            'launcher': launcher,
            'processes': processes
        })
        self.save()

    def finish(self,
               run_id: str,
               rc: int,
               error: Optional[str] = None,
               end: Optional[float] = None,
               cpu_s: Optional[float] = None) -> None:
        """Record the end of a run's latest attempt (``cpu_s``: the CPU
        seconds of its process tree, where measured)."""
        rec = self.runs[run_id]
        if rec['attempts']:
            rec['attempts'][-1].update(end=end or time.time(), rc=rc)
            if cpu_s is not None:
                rec['attempts'][-1]['cpu_s'] = float(cpu_s)
        rec['status'] = DONE if rc == 0 else FAILED
        rec['error'] = error
        self.save()

    def fail(self, run_id: str, error: str) -> None:
        """A run that could not even start (bad config, failed teacher)."""
        rec = self.runs[run_id]
        rec.update(status=FAILED, error=error)
        self.save()
