"""Running a study: every run one after another on this machine
(``none`` / ``pytorch``), or one SLURM job per run (``slurm``), with the
state of each run in ``DIR/study.json`` (:mod:`.state`).

- A failed run is recorded with its exit code and the tail of its log and
  the study goes on with the next run (a run whose teacher run or init run
  failed is failed without starting).
- Locally, ``jobs`` runs go at a time (:mod:`.local`), each once the runs
  it depends on have finished.
- Rerunning the same command resumes: finished runs are skipped, a killed
  or failed training resumes from its checkpoint (``--resume`` when its
  work dir has a ``last_checkpoint``), a self-training run continues at
  its first unfinished stage (``tools/self_train.py`` skips finished ones).
- With SLURM, runs whose job is still queued or running are left alone;
  the others are (re)submitted.
"""
import os
import os.path as osp
import shlex
import time
from typing import Callable, Dict, List, Optional

from mmengine.config import Config

from .local import RUN_LOG, dependency_problem, run_local
from .plan import Launcher, Run, final_checkpoint_path, plan_runs
from .schema import SELF_TRAIN, StudyConfigError, study_to_dict
from .slurm import SlurmError, job_states, slurm_status, submit
from .state import (DONE, FAILED, PENDING, RUNNING, STUDY_COPY, StudyState,
                    last_checkpoint, pid_alive, training_finished)
from .validate import load_study

__all__ = ['run_study', 'current_status', 'RUN_LOG']


def _record(run: Run) -> dict:
    """The plan part of a run's record (its history is kept apart)."""
    arm = run.arm
    return dict(
        id=run.id,
        arm=arm.name,
        seed=run.seed,
        kind=arm.kind,
        work_dir=run.work_dir,
        config=run.config,
        teacher_config=run.teacher_config,
        teacher_run=run.teacher_run,
        init_run=run.init_run,
        rounds=arm.rounds,
        length=run.length,
        plan_error=run.error)


def _newest_mtime(path: str) -> Optional[float]:
    times = [
        osp.getmtime(osp.join(d, f)) for d, _, fs in os.walk(path) for f in fs
    ]
    return max(times) if times else None


def current_status(rec: dict, jobs: Optional[Dict[str, dict]] = None) -> str:
    """A run's status now: SLURM's word for a submitted job, the process
    table for a local run marked running, else the work dir (finished
    training) and the recorded outcome."""
    if rec.get('job_id') and jobs is not None:
        status = slurm_status(jobs.get(rec['job_id']))
        if status is not None:
            return status
        if training_finished(rec):
            return DONE
        # SLURM forgot the job (no accounting) and it did not finish
        return FAILED if rec['status'] in (RUNNING, FAILED) else PENDING
    if rec['status'] == RUNNING and not pid_alive(
            rec.get('pid'), rec.get('host')):
        return DONE if training_finished(rec) else PENDING
    if rec['status'] != DONE and training_finished(rec):
        return DONE
    return rec['status']


def _close_interrupted(state: StudyState, rec: dict) -> None:
    """End the open attempt of a run whose runner died (its end: the
    newest file of its work dir)."""
    if pid_alive(rec.get('pid'), rec.get('host')):
        return  # another tools/study.py runs it now
    att = rec['attempts'][-1] if rec['attempts'] else None
    if att and att.get('end') is None and att.get('start') is not None:
        att['end'] = _newest_mtime(rec['work_dir']) or att['start']
        att['rc'] = None
        att['interrupted'] = True
    rec['status'] = current_status(rec)
    state.save()


def _command(run: Run, state: StudyState, launcher: Launcher) -> List[str]:
    """The command of ``run`` now (resume flag, teacher checkpoint; for
    SLURM the jobs of unfinished dependencies to wait for)."""
    after = None
    if launcher.launcher == 'slurm':
        deps = [state.runs[d] for d in run.depends]
        after = ':'.join(d['job_id'] for d in deps
                         if d['status'] != DONE and d.get('job_id')) or None
    if run.arm.kind != SELF_TRAIN:
        resume = osp.isfile(osp.join(run.work_dir, 'last_checkpoint'))
        return launcher.train_command(run, resume, after)
    ckpt = run.arm.teacher_checkpoint
    if run.teacher_run:
        teacher = state.runs[run.teacher_run]
        # a teacher still training: its final checkpoint-to-be, not the
        # intermediate one last_checkpoint names now
        ckpt = final_checkpoint_path(teacher['work_dir'], teacher['length'])
        if teacher['status'] == DONE:
            ckpt = last_checkpoint(teacher['work_dir']) or ckpt
    return launcher.self_train_command(run, ckpt, after)


def _slurm_problem(run: Run, state: StudyState) -> Optional[str]:
    """Why a SLURM run cannot be submitted: a dependency neither done nor
    queued / running as a job."""
    for dep in run.depends:
        rec = state.runs[dep]
        if rec['status'] == DONE:
            continue
        if rec['status'] in (PENDING, RUNNING) and rec.get('job_id'):
            continue
        return (f'run {dep}, which it needs, is {rec["status"]}'
                f'{"" if rec.get("job_id") else " and was not submitted"}: '
                'rerun the study once it has finished')
    return None


def _submit(run: Run, cmd: List[str], state: StudyState, launcher: Launcher,
            log: Callable) -> None:
    os.makedirs(run.work_dir, exist_ok=True)
    try:
        job = submit(cmd, {**os.environ, **launcher.env()}, os.getcwd())
    except SlurmError as e:
        state.fail(run.id, str(e))
        log(f'[{run.id}] FAILED to submit: {e}')
        return
    rec = state.runs[run.id]
    rec.update(
        status=PENDING,
        job_id=job,
        command=cmd,
        error=None,
        launcher=launcher.launcher,
        processes=launcher.processes)
    rec['attempts'].append({
        'submitted': time.time(),
        'start': None,
        'end': None,
        'rc': None,
        'job_id': job,
        'launcher': launcher.launcher,
        'processes': launcher.processes
    })
    state.save()
    log(f'[{run.id}] submitted as SLURM job {job}')


def run_study(study_config: str,
              study_dir: str,
              launcher: Optional[Launcher] = None,
              dry_run: bool = False,
              log: Callable = print,
              jobs: int = 1) -> StudyState:
    """Run (or submit) every unfinished run of a study.

    Args:
        study_config (str): The study config file.
        study_dir (str): The study directory ``DIR``.
        launcher (Launcher, optional): How runs start. Defaults to one
            local process per run.
        dry_run (bool): Print the commands, change nothing. Defaults to
            False.
        log (callable): Where progress lines go. Defaults to print.
        jobs (int): Local runs at a time (``launcher='none'`` only; each
            child gets cores / jobs threads). Defaults to 1.

    Returns:
        StudyState: The state after the loop (in memory only for a dry
        run).
    """
    launcher = launcher or Launcher()
    if jobs < 1 or (jobs > 1 and launcher.launcher != 'none'):
        raise StudyConfigError(
            f'--jobs {jobs} with --launcher {launcher.launcher}: --jobs '
            'runs N local single-process runs at a time (>= 1; only with '
            '--launcher none, where nothing else shares the runs\' ports).')
    study = load_study(study_config)
    if launcher.job_name == Launcher.job_name:
        launcher.job_name = study.name
    state = StudyState(study_dir)
    runs = plan_runs(study, state.study_dir, write=not dry_run)
    if not dry_run:
        os.makedirs(state.study_dir, exist_ok=True)
        Config(study_to_dict(study)).dump(
            osp.join(state.study_dir, STUDY_COPY))
    state.data['study'] = dict(
        name=study.name,
        config=osp.abspath(study_config),
        copy=osp.join(state.study_dir, STUDY_COPY),
        launcher=launcher.launcher,
        gpus=launcher.gpus,
        partition=launcher.partition)
    for run in runs:
        rec = state.upsert(_record(run))
        if (rec['status'] == RUNNING and rec.get('launcher') != 'slurm'
                and not dry_run):
            _close_interrupted(state, rec)
    slurm = launcher.launcher == 'slurm'
    job_ids = [r.get('job_id') for r in state.ordered() if r.get('job_id')]
    slurm_jobs = job_states(job_ids) if job_ids else None
    if not dry_run:
        state.save()
    local: List[Run] = []
    for run in runs:
        rec = state.runs[run.id]
        status = current_status(rec, slurm_jobs)
        if status == DONE:
            if rec.get('fingerprint') not in (None, run.fingerprint):
                log(f'[{run.id}] done, but its configs changed since it ran:'
                    f' kept (remove {run.work_dir} to run it again)')
            else:
                log(f'[{run.id}] done, skipped')
            if rec['status'] != DONE and not dry_run:
                rec['status'] = DONE
                rec.setdefault('fingerprint', run.fingerprint)
                state.save()
            continue
        if rec.get('job_id') and status in (PENDING, RUNNING) and \
                slurm_jobs and rec['job_id'] in slurm_jobs:
            log(f'[{run.id}] {status} as SLURM job {rec["job_id"]}, left '
                'alone')
            rec['status'] = status
            continue
        if status == RUNNING:
            log(f'[{run.id}] running in process {rec.get("pid")} (another '
                'tools/study.py), left alone')
            continue
        problem = run.error or (_slurm_problem(run, state)
                                if slurm and not dry_run else None)
        if problem:
            log(f'[{run.id}] FAILED: {problem}')
            if not dry_run:
                state.fail(run.id, problem)
            continue
        if not slurm and not dry_run:
            local.append(run)
            continue
        cmd = _command(run, state, launcher)
        log(f'[{run.id}] ' + shlex.join(cmd))
        if slurm and not dry_run:
            rec['fingerprint'] = run.fingerprint
            _submit(run, cmd, state, launcher, log)
    if local:
        run_local(
            local,
            state,
            launcher,
            command=lambda r: _command(r, state, launcher),
            problem=lambda r: dependency_problem(r, state),
            log=log,
            jobs=jobs)
    return state
