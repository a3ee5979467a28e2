"""``tools/study.py status DIR``: pending / running / done / failed per run.

Submitted SLURM jobs are asked with ``squeue`` (queued, running) and
``sacct`` (ended; also the elapsed time) when the commands answer; else,
and for local runs, the answer comes from the work dirs (a finished
training's final checkpoint, ``rounds.json`` of a self-training run) and
the process table. What was learnt is written back to ``study.json``."""
import os.path as osp
from typing import List, Tuple

from .runner import current_status
from .slurm import job_states
from .state import RUNNING, StudyState, last_checkpoint, wall_time
from .tables import fmt_seconds, markdown

__all__ = ['study_status', 'format_status']


def _stages_done(work_dir: str, rounds: int) -> str:
    """The last finished stage of a tools/self_train.py work dir."""
    order = [('teacher', 'teacher/stage_done.json')]
    for r in range(1, rounds + 1):
        order += [(f'round{r}/labels', f'round{r}/labels/meta.json'),
                  (f'round{r}/eval_teacher',
                   f'round{r}/eval_teacher/stage_done.json'),
                  (f'round{r}/student', f'round{r}/student/stage_done.json'),
                  (f'round{r}/eval_student',
                   f'round{r}/eval_student/stage_done.json')]
    done = [
        name for name, marker in order
        if osp.exists(osp.join(work_dir, marker))
    ]
    return f'stage {done[-1]} done' if done else ''


def _progress(rec: dict) -> str:
    if rec['kind'] == 'self_train':
        return _stages_done(rec['work_dir'], int(rec.get('rounds', 1)))
    ckpt = last_checkpoint(rec['work_dir'])
    length = rec.get('length') or {}
    if not ckpt:
        return ''
    name = osp.splitext(osp.basename(ckpt))[0]
    total = length.get('max_iters', length.get('max_epochs'))
    return f'{name} of {total}' if total else name


def study_status(study_dir: str) -> List[dict]:
    """Refresh and return the run records of a study (each with its
    current ``status``)."""
    state = StudyState(study_dir)
    if not state.exists:
        raise FileNotFoundError(
            f'{study_dir}: no study.json: not a study directory.')
    records = state.ordered()
    jobs = job_states([r.get('job_id') for r in records])
    for rec in records:
        rec['status'] = current_status(rec, jobs)
        info = jobs.get(rec.get('job_id') or '')
        if info:
            rec['slurm_state'] = info['state']
            if info.get('elapsed') is not None:
                rec['elapsed'] = info['elapsed']
    state.save()
    return records


def format_status(records: List[dict]) -> Tuple[str, dict]:
    """A Markdown table of the runs and the count per status."""
    rows, counts = [], {}
    for rec in records:
        counts[rec['status']] = counts.get(rec['status'], 0) + 1
        where = rec.get('job_id') and (
            f'SLURM {rec["job_id"]} {rec.get("slurm_state", "")}'.strip())
        wall = wall_time(rec) if rec.get('elapsed') is None else rec['elapsed']
        note = (rec.get('error') or rec.get('plan_error') or '').strip()
        rows.append([
            rec['id'], rec['status'], where or rec.get('launcher', ''),
            _progress(rec),
            fmt_seconds(wall) if rec['status'] != RUNNING else '',
            note.splitlines()[0][:100] if note else ''
        ])
    table = markdown(
        ['run', 'status', 'launcher', 'checkpoint', 'wall time', 'note'], rows)
    return table, counts
