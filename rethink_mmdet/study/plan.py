"""Arm planning: every (arm, seed) of a study as a run with its own config
file, work dir and command line for the chosen launcher.

Layout of a study directory ``DIR``::

    study_config.py          the study config as run (absolute paths)
    study.json               state of every run (see :mod:`.state`)
    configs/{arm}_seed{s}.py the run's config: the arm's config with its
                             cfg_options merged and randomness.seed set
                             (self-training: ..._student.py / _teacher.py)
    arms/{arm}/seed{s}/      the run's work dir (tools/train.py or
                             tools/self_train.py --work-dir)
    report.md, plots/        written by :mod:`.report`

Commands (the same tools a user runs by hand):

- ``none``: ``python tools/train.py CFG --work-dir WD [--resume]``;
  self-training ``python tools/self_train.py STUDENT --teacher-config T
  [--teacher-checkpoint C] --unlabeled U --work-dir WD [--student-init
  I]`` (each student starts from its teacher's final weights unless the
  arm's or the student config's ``student_init`` says otherwise).
- ``pytorch``: ``bash tools/dist_train.sh CFG N --work-dir WD``;
  self-training with ``--launcher pytorch --gpus N``.
- ``slurm``: one ``sbatch`` per run: ``tools/slurm_train.sbatch CFG WD``
  (requeued on preemption, exit 75; the requeued job adds ``--resume``);
  self-training an ``sbatch --requeue --wrap`` of
  ``tools/self_train.py --launcher slurm`` (its stages are job steps; a
  preempted stage makes it exit 75 and the job requeue itself, and the
  rerun skips the finished stages).
  A self-training run of a ``teacher_arm`` waits for the teacher's job
  (``--dependency=afterok``).

An arm with ``init_arm`` starts from that arm's final checkpoint (its path,
known before that run has finished, is written into the run's config at
``init_key``); like a self-training run it runs after the run it needs.
Runs are ordered so that every run comes after the runs it depends on.
"""
import copy
import functools
import hashlib
import json
import os
import os.path as osp
import shlex
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from mmengine.config import Config

from rethink_mmdet.engine.signals import PREEMPTED_EXIT_CODE
from rethink_mmdet.self_training.stages import (LAUNCHERS, TOOLS, Launch,
                                                SelfTrainingError)
from .schema import SELF_TRAIN, Arm, Study, StudyConfigError

__all__ = [
    'LAUNCHERS', 'TOOLS', 'Launcher', 'Run', 'plan_runs', 'derive_config',
    'final_checkpoint_path'
]


@dataclass
class Run:
    """One seed of one arm.

    Args:
        arm (Arm): The arm.
        seed (int): Its seed (``randomness.seed``).
        work_dir (str): The run's work dir.
        config (str): The run's config file (the student's for
            self-training).
        teacher_config (str, optional): The teacher's config file
            (self-training).
        teacher_run (str, optional): Id of the run that trains the teacher
            (a ``teacher_arm``).
        init_run (str, optional): Id of the run whose final checkpoint
            this run starts from (an ``init_arm``).
        init_checkpoint (str, optional): That checkpoint's path.
        length (dict): ``train_cfg``'s ``max_iters`` or ``max_epochs``.
        fingerprint (str): Digest of the run's configs (a finished run whose
            configs changed is reported, not silently reused).
        error (str, optional): Why the run's config could not be built.
    """
    arm: Arm
    seed: int
    work_dir: str
    config: str
    teacher_config: Optional[str] = None
    teacher_run: Optional[str] = None
    init_run: Optional[str] = None
    init_checkpoint: Optional[str] = None
    length: Dict[str, int] = field(default_factory=dict)
    fingerprint: str = ''
    error: Optional[str] = None

    @property
    def id(self) -> str:
        return run_id(self.arm.name, self.seed)

    @property
    def depends(self) -> List[str]:
        """Ids of the runs that must finish before this one starts."""
        return [r for r in (self.teacher_run, self.init_run) if r]


def run_id(arm: str, seed: int) -> str:
    return f'{arm}_seed{seed}'


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int) -> Config:
    """``Config.fromfile`` once per file version (a grid's arms and seeds
    share their config file; parsing mmdet's bases takes ~0.3 s)."""
    return Config.fromfile(path)


def derive_config(src: str,
                  cfg_options: dict,
                  seed: int,
                  out: Optional[str] = None) -> Config:
    """``src`` with ``cfg_options`` merged (as ``--cfg-options`` would) and
    ``randomness.seed = seed``; dumped to ``out`` when given."""
    cfg = copy.deepcopy(_load(osp.abspath(src), os.stat(src).st_mtime_ns))
    try:
        if cfg_options:  # a copy: mmengine pops `_delete_` from the dict
            cfg.merge_from_dict(copy.deepcopy(cfg_options))
    except Exception as e:  # noqa: BLE001 (mmengine raises many kinds)
        raise StudyConfigError(
            f'{src}: cfg_options {cfg_options} do not merge ({e!r}). Fix '
            'the override keys.') from e
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=int(seed))
    if out is not None:
        os.makedirs(osp.dirname(out), exist_ok=True)
        cfg.dump(out)
    return cfg


def train_length(cfg: Config) -> Dict[str, int]:
    """``{'max_iters': N}`` or ``{'max_epochs': N}`` of a config's
    ``train_cfg`` (empty if it has neither)."""
    train_cfg = cfg.get('train_cfg') or {}
    return {
        k: int(train_cfg[k])
        for k in ('max_iters', 'max_epochs') if k in train_cfg
    }


def final_checkpoint_path(work_dir: str, length: Dict[str, int]) -> str:
    """Where the last checkpoint of a finished training will be
    (mmengine's ``CheckpointHook`` saves the last iteration / epoch)."""
    if 'max_iters' in length:
        return osp.join(work_dir, f'iter_{length["max_iters"]}.pth')
    if 'max_epochs' in length:
        return osp.join(work_dir, f'epoch_{length["max_epochs"]}.pth')
    return osp.join(work_dir, 'latest.pth')


def plan_runs(study: Study, study_dir: str, write: bool = True) -> List[Run]:
    """Every run of ``study``, teacher runs before the runs that use them.

    Args:
        study (Study): The validated study.
        study_dir (str): The study directory ``DIR``.
        write (bool): Write the runs' config files (False for a dry run:
            the configs are still built and checked). Defaults to True.

    Returns:
        list[Run]: In the order they are run.
    """
    study_dir = osp.abspath(study_dir)
    built: Dict[str, Run] = {}
    runs = []
    for arm in _dependency_order(study):
        for seed in arm.seeds:
            rid = run_id(arm.name, seed)
            base = osp.join(study_dir, 'configs', rid)
            run = Run(arm, seed,
                      osp.join(study_dir, 'arms', arm.name, f'seed{seed}'), '')
            try:
                _link_init(run, built)
                _build(run, base, write)
            except StudyConfigError as e:
                run.error = str(e)
            built[rid] = run
            runs.append(run)
    return runs


def _dependency_order(study: Study) -> List[Arm]:
    """The arms in study order, except that an arm comes after its
    ``teacher_arm`` and ``init_arm`` (validation excluded cycles)."""
    done, out = set(), []

    def visit(arm):
        if arm.name in done:
            return
        done.add(arm.name)
        for up in (arm.teacher_arm, arm.init_arm):
            if up:
                visit(study.arm(up))
        out.append(arm)

    for arm in study.arms:
        visit(arm)
    return out


def _link_init(run: Run, built: Dict[str, Run]) -> None:
    """Point ``run`` at its init arm's final checkpoint (the run of the
    same seed, else the init arm's only run)."""
    arm = run.arm
    if not arm.init_arm:
        return
    init = built.get(run_id(arm.init_arm, run.seed))
    if init is None:
        init = next(r for r in built.values() if r.arm.name == arm.init_arm)
    if init.error or not init.length:
        why = init.error or ('its train_cfg has neither max_iters nor '
                             'max_epochs')
        raise StudyConfigError(
            f'{run.id}: init_arm run {init.id} has no known final '
            f'checkpoint ({why}). Fix that arm first.')
    run.init_run = init.id
    run.init_checkpoint = final_checkpoint_path(init.work_dir, init.length)


def _digest_text(cfg: Config) -> bytes:
    return json.dumps(cfg.to_dict(), sort_keys=True, default=repr).encode()


def _build(run: Run, base: str, write: bool) -> None:
    """Build (and write) a run's config files."""
    arm, seed = run.arm, run.seed
    digest = hashlib.sha256()
    if arm.kind == SELF_TRAIN:
        run.config = base + '_student.py'
        if arm.teacher_arm:
            run.teacher_run = run_id(arm.teacher_arm, seed)
            run.teacher_config = osp.join(
                osp.dirname(base), run.teacher_run + '.py')
        else:
            run.teacher_config = base + '_teacher.py'
            teacher = derive_config(arm.teacher_config,
                                    arm.teacher_cfg_options, seed,
                                    run.teacher_config if write else None)
            digest.update(_digest_text(teacher))
        digest.update(
            repr((arm.teacher_checkpoint, arm.unlabeled, arm.img_root,
                  arm.rounds, arm.score_thr)).encode())
        if arm.student_init is not None:  # earlier digests stay valid
            digest.update(repr(arm.student_init).encode())
    else:
        run.config = base + '.py'
    options = dict(arm.cfg_options)
    if run.init_checkpoint:
        options[arm.init_key] = run.init_checkpoint
    cfg = derive_config(arm.config, options, seed,
                        run.config if write else None)
    digest.update(_digest_text(cfg))
    run.length = train_length(cfg)
    run.fingerprint = digest.hexdigest()[:16]


@dataclass
class Launcher(Launch):
    """How runs start: :class:`rethink_mmdet.self_training.stages.Launch`
    (which starts ``tools/self_train.py``'s stages the same way) plus one
    ``sbatch`` job per run for SLURM.

    Args:
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.
            Defaults to ``'none'``.
        gpus (int): Processes per run (``--gpus``). Defaults to 1.
        partition (str, optional): SLURM partition. Defaults to None.
        job_name (str): SLURM job names are ``{job_name}_{run}``.
            Defaults to ``'study'`` (:func:`run_study` uses the study's
            name).
        gpus_per_node (int, optional): GPUs per node of a SLURM job; 0 on
            CPU nodes (gloo, no ``--gres``). Defaults to None:
            ``min(gpus, 8)``.
        cpus_per_task (int): SLURM ``--cpus-per-task``. Defaults to 5.
        sbatch_args (list[str]): Extra ``sbatch`` arguments. Defaults to
            none.
    """
    job_name: str = 'study'
    gpus_per_node: Optional[int] = None
    cpus_per_task: int = 5
    sbatch_args: List[str] = field(default_factory=list)

    def __post_init__(self):
        try:
            super().__post_init__()
        except SelfTrainingError as e:
            raise StudyConfigError(str(e)) from e
        if self.gpus < 1:
            raise StudyConfigError(f'--gpus {self.gpus}: need >= 1.')
        if self.gpus_per_node is None:
            self.gpus_per_node = min(self.gpus, 8)

    @property
    def processes(self) -> int:
        """Processes of one run (device-hours = processes x hours)."""
        return 1 if self.launcher == 'none' else self.gpus

    def env(self) -> Dict[str, str]:
        """Environment of a run's command."""
        env = {'PYTHON': sys.executable}
        if self.launcher == 'slurm':
            env.update(
                TOOLS=TOOLS,
                GPUS=str(self.gpus),
                GPUS_PER_NODE=str(self.gpus_per_node),
                CPUS_PER_TASK=str(self.cpus_per_task))
        return env

    def train_command(self,
                      run: Run,
                      resume: bool,
                      after: Optional[str] = None) -> List[str]:
        """The command training ``run`` (``after``: a SLURM job id)."""
        tail = ['--resume'] if resume else []
        if self.launcher != 'slurm':  # tools/train.py, tools/dist_train.sh
            return self.command(
                'train', [run.config, '--work-dir', run.work_dir, *tail], {},
                run.id)
        return self._sbatch(run, after) + [
            osp.join(TOOLS, 'slurm_train.sbatch'), run.config, run.work_dir,
            *tail
        ]

    def self_train_command(self,
                           run: Run,
                           teacher_checkpoint: Optional[str],
                           after: Optional[str] = None) -> List[str]:
        """The ``tools/self_train.py`` command of a self-training run."""
        arm = run.arm
        args = [
            sys.executable,
            osp.join(TOOLS, 'self_train.py'), run.config, '--teacher-config',
            run.teacher_config
        ]
        if teacher_checkpoint:
            args += ['--teacher-checkpoint', teacher_checkpoint]
        args += [
            '--unlabeled', arm.unlabeled, '--work-dir', run.work_dir,
            '--rounds',
            str(arm.rounds), '--score-thr',
            str(arm.score_thr)
        ]
        if arm.img_root:
            args += ['--img-root', arm.img_root]
        if arm.student_init is not None:
            args += ['--student-init', arm.student_init]
        if self.launcher == 'none':
            return args
        args += ['--launcher', self.launcher, '--gpus', str(self.gpus)]
        if self.launcher == 'pytorch':
            return args
        args += ['--partition', self.partition]
        # Requeued on preemption like tools/slurm_train.sbatch: the stage
        # being trained checkpoints and exits 75, so does self_train.py, the
        # job requeues itself and the rerun skips the finished stages.
        wrapped = (f'{shlex.join(args)}; rc=$?; if [ "$rc" -eq '
                   f'{PREEMPTED_EXIT_CODE} ]; then scontrol requeue '
                   '"$SLURM_JOB_ID"; fi; exit "$rc"')
        return self._sbatch(run, after) + [
            '--requeue', '--open-mode=append', '--signal=USR1@180', '--wrap',
            wrapped
        ]

    def _sbatch(self, run: Run, after: Optional[str]) -> List[str]:
        cmd = [
            'sbatch', '--parsable', '-p', self.partition, '-J',
            f'{self.job_name}_{run.id}', f'--ntasks={self.gpus}',
            f'--cpus-per-task={self.cpus_per_task}', '-o',
            osp.join(run.work_dir, 'slurm-%j.out')
        ]
        if self.gpus_per_node:
            cmd += [
                f'--gres=gpu:{self.gpus_per_node}',
                f'--ntasks-per-node={self.gpus_per_node}'
            ]
        if after:
            cmd.append(f'--dependency=afterok:{after}')
        return cmd + list(self.sbatch_args)
