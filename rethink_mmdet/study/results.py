"""Per-run results of a study: final metrics, curves and cost, read from
the runs' work dirs and the study state.

Cost (Zoph et al. 2020, Sec. 4: "self-training takes 1.3x to 8x more
compute than fine-tuning a pre-trained model"; He et al. 2019, Fig. 2:
images / pixels seen):

- wall time: the sum of a run's attempts in ``study.json`` (start/end of
  every local attempt; a self-training run's attempt spans all of its
  stages); for SLURM jobs the elapsed time ``squeue`` / ``sacct`` last
  reported (``tools/study.py status``), else the mmengine runs found in
  the work dir (:func:`workdir_wall_time`);
- device-hours: processes x wall hours;
- images / pixels seen: the final ``images_seen`` / ``pixels_seen``
  scalars (:class:`ImagesSeenHook`) of every training of the run (for
  self-training: the teacher it trained itself, if any, plus every
  round's student).
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .metrics import IMAGES, PIXELS, History, read_history, workdir_wall_time
from .schema import SELF_TRAIN, Study
from .state import (ROUNDS_FILE, StudyState, cpu_seconds, device_seconds,
                    wall_time)

__all__ = ['RunResult', 'collect', 'stage_dirs']


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        id, arm, seed, kind, status: From the study state.
        history (History): Scalars of the run's (last) training.
        metrics (dict): Final value of every study metric (None: absent).
        wall_s (float, optional): Wall seconds.
        wall_source (str): ``'state'``, ``'SLURM'`` or ``'work dir'``.
        processes (int): Processes per run.
        images_seen, pixels_seen (float, optional): Totals over the run's
            trainings (None when not logged).
        stages (dict): Self-training: wall seconds per stage kind found in
            the work dir.
        stores (list[str]): Self-training: the rounds' pseudo-label
            stores.
        error (str, optional): Why the run failed.
        device_s (float, optional): Processes x seconds over the recorded
            attempts.
        cpu_s (float, optional): CPU seconds (user + system) of the run's
            process tree, where measured (local runs).
    """
    id: str
    arm: str
    seed: int
    kind: str
    status: str
    history: History
    metrics: Dict[str, Optional[float]]
    wall_s: Optional[float] = None
    wall_source: str = ''
    processes: int = 1
    images_seen: Optional[float] = None
    pixels_seen: Optional[float] = None
    stages: Dict[str, float] = field(default_factory=dict)
    stores: List[str] = field(default_factory=list)
    error: Optional[str] = None

    device_s: Optional[float] = None
    cpu_s: Optional[float] = None

    @property
    def device_hours(self) -> Optional[float]:
        """Processes x hours (per attempt when the state has them)."""
        if self.device_s is not None:
            return self.device_s / 3600.0
        if self.wall_s is None:
            return None
        return self.processes * self.wall_s / 3600.0


def stage_dirs(work_dir: str, rounds: int) -> Dict[str, List[str]]:
    """The training / evaluation folders of a ``tools/self_train.py``
    work dir (see :mod:`rethink_mmdet.self_training.rounds`)."""
    rnd = [osp.join(work_dir, f'round{r}') for r in range(1, rounds + 1)]
    return {
        'teacher': [osp.join(work_dir, 'teacher')],
        'student': [osp.join(d, 'student') for d in rnd],
        'evaluation': [
            osp.join(d, e) for d in rnd
            for e in ('eval_teacher', 'eval_student')
        ],
    }


def _sum(values):
    values = [v for v in values if v is not None]
    return float(sum(values)) if values else None


def _self_train(rec, study, result):
    dirs = stage_dirs(rec['work_dir'], int(rec.get('rounds', 1)))
    histories = [read_history(d) for d in dirs['teacher'] + dirs['student']]
    result.history = histories[-1]
    for key, attr in ((IMAGES, 'images_seen'), (PIXELS, 'pixels_seen')):
        setattr(result, attr, _sum(h.total(key) for h in histories))
    rounds_file = osp.join(rec['work_dir'], ROUNDS_FILE)
    tested = {}
    if osp.isfile(rounds_file):
        with open(rounds_file) as f:
            rounds = json.load(f)
        tested = rounds[-1].get('student_metrics', {}) if rounds else {}
    for m in study.metrics:
        value = tested.get(m.key)
        result.metrics[m.key] = (
            float(value) if value is not None else result.history.final(m.key))
    for stage, paths in dirs.items():
        spent = _sum(workdir_wall_time(p) for p in paths if osp.isdir(p))
        if spent is not None:
            result.stages[stage] = spent
    result.stores = [
        osp.join(rec['work_dir'], f'round{r}', 'labels')
        for r in range(1,
                       int(rec.get('rounds', 1)) + 1)
    ]


def collect(study: Study, state: StudyState) -> List[RunResult]:
    """A :class:`RunResult` for every run in the state, in run order."""
    out = []
    for rec in state.ordered():
        result = RunResult(
            id=rec['id'],
            arm=rec['arm'],
            seed=rec['seed'],
            kind=rec['kind'],
            status=rec['status'],
            history=History(),
            metrics={},
            processes=int(rec.get('processes', 1)),
            error=rec.get('error') or rec.get('plan_error'))
        if rec['kind'] == SELF_TRAIN:
            _self_train(rec, study, result)
        else:
            result.history = read_history(rec['work_dir'])
            result.metrics = {
                m.key: result.history.final(m.key)
                for m in study.metrics
            }
            result.images_seen = result.history.total(IMAGES)
            result.pixels_seen = result.history.total(PIXELS)
        result.wall_s, result.wall_source = wall_time(rec), 'state'
        result.device_s = device_seconds(rec)
        result.cpu_s = cpu_seconds(rec)
        if rec.get('elapsed') is not None:
            result.wall_s, result.wall_source = float(rec['elapsed']), \
                'SLURM'
            result.device_s = None
        if result.wall_s is None:
            result.wall_s = workdir_wall_time(rec['work_dir'])
            result.wall_source = 'work dir'
        if result.stages and result.wall_s is not None:
            rest = result.wall_s - sum(result.stages.values())
            if rest > 0:
                result.stages['labels + start-up'] = rest
        out.append(result)
    return out
