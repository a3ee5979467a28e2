"""Iterative self-training as resumable stages (Zoph et al. 2020, Sec. 3).

Zoph et al.'s self-training has three steps: (1) train a teacher on the
labeled data, (2) pseudo-label the unlabeled images with it, (3) train a
student on human + pseudo labels jointly. For ``K > 1`` rounds the student
of round ``r`` becomes the teacher of round ``r + 1``. Each student starts
from its teacher's final weights (Sec. 3.2, App. C; ``student_init``, see
:mod:`.student_init`: ``'teacher'`` by default, ``'random'`` or a
checkpoint path).

:func:`plan_rounds` turns that into a list of :class:`Stage` commands, each
an ordinary tool of this package (``tools/train.py``, ``tools/test.py``,
``tools/pseudo_label.py``, or their ``dist_`` / ``slurm_`` launchers), each
with a completion marker on disk, so that rerunning the same command skips
finished stages and resumes an interrupted one (the labeler skips finished
chunks; training resumes from its last checkpoint with ``--resume``).

Layout of ``WORK_DIR``::

    teacher/                     the round-1 teacher's training (if no
                                 --teacher-checkpoint was given)
    round{r}/labels/             pseudo-label store of round r
    round{r}/student_config.py   the student config as trained (its store,
                                 and load_from the next file)
    round{r}/student_init.pth    the student's start weights: the
                                 teacher's (or student_init's checkpoint)
                                 without loss_norm.* (not with 'random')
    round{r}/student/            the student's training work dir
    round1/eval_teacher/         tools/test.py of the round-1 teacher
                                 (later teachers are the previous round's
                                 evaluated student)
    round{r}/eval_student/       tools/test.py of the round's student
    rounds.json                  per round: teacher, store, student and
                                 their metrics

An evaluation stage whose training validated on the test split with the
test metric right after its checkpoint's iteration reuses those metrics
(recorded in its ``stage_done.json``) instead of running ``tools/test.py``
again (:mod:`.final_validation`).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from mmengine.config import Config

from ..engine.signals import PREEMPTED_EXIT_CODE
from .final_validation import final_validation_metrics
from .student_init import (STUDENT_INIT_FILE, StudentInitError,
                           apply_student_init, init_source,
                           prepare_student_init, student_init_value)

#: Dataset type whose ``store`` the student's config gets pointed at.
PSEUDO_DATASET_TYPE = 'PseudoLabelDataset'
#: File written into a stage's directory once the stage has finished.
DONE_MARKER = 'stage_done.json'
#: The per-round record file.
ROUNDS_FILE = 'rounds.json'
LAUNCHERS = ('none', 'pytorch', 'slurm')


def tools_dir() -> str:
    """The folder of this package's tools (``train.py``, ``dist_train.sh``,
    ``self_train.py``...): ``rethink_mmdet/.mim/tools`` where the package
    ships it (a wheel copies the tools there, an editable install links it
    to the checkout's, resolved here), else the checkout's ``tools/``
    beside the package."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    shipped = osp.join(package, '.mim', 'tools')
    if osp.isdir(shipped):
        return osp.realpath(shipped)
    return osp.join(osp.dirname(package), 'tools')


#: Where the stage commands' tools are (:func:`tools_dir`).
TOOLS = tools_dir()


def add_stage_launch_args(parser, unit: str = 'stage') -> None:
    """Add ``--launcher``, ``--gpus`` and ``--partition`` (the fields of
    :class:`Launch`) to an argparse ``parser``; ``unit`` names what each
    launch runs (``'stage'`` of tools/self_train.py, ``'run'`` of
    tools/study.py) in the help."""
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none')
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help=f'processes per {unit} (pytorch / slurm)')
    parser.add_argument('--partition', default=None, help='SLURM partition')


class SelfTrainingError(RuntimeError):
    """A student config or a stage that cannot run as asked."""


@dataclass
class Launch:
    """How each stage's tool is started.

    Args:
        launcher (str): ``'none'`` (one process), ``'pytorch'``
            (``tools/dist_*.sh`` with ``gpus`` processes) or ``'slurm'``
            (``tools/slurm_*.sh`` on ``partition``). Defaults to ``'none'``.
        gpus (int): Processes per stage. Defaults to 1.
        partition (str, optional): SLURM partition. Defaults to None.
        job_name (str): SLURM job name prefix. Defaults to 'self_train'.
    """
    launcher: str = 'none'
    gpus: int = 1
    partition: Optional[str] = None
    job_name: str = 'self_train'

    def __post_init__(self):
        if self.launcher not in LAUNCHERS:
            raise SelfTrainingError(
                f'launcher {self.launcher!r}: use one of {LAUNCHERS}.')
        if self.launcher == 'slurm' and not self.partition:
            raise SelfTrainingError('--launcher slurm needs --partition P.')

    def command(self, tool: str, args: List[str], env: Dict[str, str],
                name: str) -> List[str]:
        """The command line running ``tools/{tool}.py`` with ``args``
        (config first, then the checkpoint for test and pseudo_label)."""
        if self.launcher == 'none':
            return [sys.executable, osp.join(TOOLS, f'{tool}.py'), *args]
        if self.launcher == 'pytorch':
            # dist_X.sh CONFIG [CKPT] GPUS [args]
            head = 2 if tool in ('test', 'pseudo_label') else 1
            script = osp.join(TOOLS, f'dist_{tool}.sh')
            return ['bash', script, *args[:head], str(self.gpus), *args[head:]]
        env['GPUS'] = str(self.gpus)
        env['GPUS_PER_NODE'] = str(min(self.gpus, 8))
        job = f'{self.job_name}_{name}'
        if tool == 'train':
            # slurm_train.sh PARTITION JOB CONFIG WORK_DIR [args]
            work_dir = args[args.index('--work-dir') + 1]
            rest = [
                a for i, a in enumerate(args[1:], 1)
                if a != '--work-dir' and args[i - 1] != '--work-dir'
            ]
            return [
                'bash',
                osp.join(TOOLS, 'slurm_train.sh'), self.partition, job,
                args[0], work_dir, *rest
            ]
        return [
            'bash',
            osp.join(TOOLS, 'slurm_launch.sh'), self.partition, job,
            f'{tool}.py', *args
        ]


@dataclass
class Stage:
    """One resumable step: a command and the marker that says it is done.

    Args:
        name (str): ``teacher``, ``labels``, ``student``, ``eval_teacher``
            or ``eval_student`` (with the round, e.g. ``round1/labels``).
        command (list[str]): The command line.
        done (str): Path whose existence means the stage has finished.
        env (dict): Extra environment variables for the command.
    """
    name: str
    command: List[str]
    done: str
    env: Dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return osp.exists(self.done)


def point_at_store(cfg: Config, store: str) -> int:
    """Set ``store`` of every ``PseudoLabelDataset`` in ``cfg``'s
    ``train_dataloader`` (at any depth: a ``MultiSourceDataset``'s sources,
    a ``ConcatDataset``, a ``RepeatDataset``...).

    Returns:
        int: How many datasets were pointed at ``store``.

    Raises:
        SelfTrainingError: if the student config has no such dataset.
    """
    found = 0

    def visit(node):
        nonlocal found
        if isinstance(node, dict):
            if node.get('type') == PSEUDO_DATASET_TYPE:
                node['store'] = store
                found += 1
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.get('train_dataloader', {}))
    if not found:
        raise SelfTrainingError(
            f'{cfg.filename}: train_dataloader has no {PSEUDO_DATASET_TYPE}: '
            'the student would train on human labels only. Add a pseudo '
            "source (see configs/rethinking-self-training/) whose store "
            'tools/self_train.py can set.')
    return found


def final_checkpoint(work_dir: str) -> str:
    """The checkpoint a finished training in ``work_dir`` ended with
    (mmengine's ``last_checkpoint`` file)."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        raise SelfTrainingError(
            f'{work_dir}: no last_checkpoint: the training stage did not '
            'save a checkpoint (set default_hooks.checkpoint so that the '
            'last iteration is saved).')
    with open(marker) as f:
        return f.read().strip()


def read_test_metrics(work_dir: str) -> Dict[str, float]:
    """Metrics of the newest ``tools/test.py`` run in ``work_dir``
    (mmengine's ``{timestamp}/{timestamp}.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    files = [
        f for f in files
        if osp.basename(f)[:-5] == osp.basename(osp.dirname(f))
    ]
    if not files:
        raise SelfTrainingError(f'{work_dir}: no test metrics found.')
    with open(files[-1]) as f:
        return {
            k: v
            for k, v in json.load(f).items() if isinstance(v, (int, float))
        }


def mark_done(stage: Stage, info: Optional[dict] = None) -> None:
    """Write ``stage``'s completion marker (atomically)."""
    os.makedirs(osp.dirname(stage.done), exist_ok=True)
    tmp = stage.done + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(info or {}, f, indent=1)
    os.replace(tmp, stage.done)


def _run(stage: Stage, dry_run: bool, log) -> None:
    if stage.finished:
        log(f'[{stage.name}] done, skipped ({stage.done})')
        return
    log(f'[{stage.name}] ' + ' '.join(stage.command))
    if dry_run:
        return
    # The stage writes to the same stdout: ours first, or a log file or
    # pipe (block-buffered) shows the stage lines out of order.
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.perf_counter()
    proc = subprocess.run(stage.command, env={**os.environ, **stage.env})
    if proc.returncode == PREEMPTED_EXIT_CODE:
        log(f'[{stage.name}] preempted (exit {PREEMPTED_EXIT_CODE}): rerun '
            'the same command to resume it')
        raise SystemExit(PREEMPTED_EXIT_CODE)  # a requeue resumes here
    if proc.returncode != 0:
        raise SelfTrainingError(
            f'stage {stage.name} exited with {proc.returncode}; rerun the '
            'same command to resume it (finished stages are skipped).')
    log(f'[{stage.name}] finished in {time.perf_counter() - start:.1f} s')


def _train_stage(name, config, work_dir, launch, extra=()) -> Stage:
    args = [config, '--work-dir', work_dir, *extra]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        # Resume an interrupted training; a fresh one keeps its load_from
        # (``--resume`` without a path would drop it).
        args.append('--resume')
    env: Dict[str, str] = {}
    return Stage(name,
                 launch.command('train', args, env, name.replace('/', '_')),
                 osp.join(work_dir, DONE_MARKER), env)


def _eval_stage(name, config, ckpt, work_dir, launch) -> Stage:
    env: Dict[str, str] = {}
    cmd = launch.command('test', [config, ckpt, '--work-dir', work_dir], env,
                         name.replace('/', '_'))
    return Stage(name, cmd, osp.join(work_dir, DONE_MARKER), env)


def _evaluate(name, config, ckpt, work_dir, launch, dry_run, log) -> dict:
    """The metrics of ``ckpt`` on ``config``'s test split: the training's
    own validation after that iteration when it is the same evaluation
    (:mod:`.final_validation`), else a ``tools/test.py`` stage."""
    stage = _eval_stage(name, config, ckpt, work_dir, launch)
    if dry_run:
        _run(stage, dry_run, log)
        return {}
    if stage.finished:
        _run(stage, dry_run, log)  # says it is skipped
    else:
        reused = final_validation_metrics(Config.fromfile(config), ckpt)
        if reused is not None:
            log(f'[{name}] the training validated {ckpt} on the test split '
                f'with the test metric right after that iteration ({reused[1]}'
                '): its metrics are the evaluation, tools/test.py not run')
            mark_done(stage, dict(metrics=reused[0], source=reused[1]))
            return reused[0]
        _run(stage, dry_run, log)
        mark_done(stage)
    with open(stage.done) as f:
        recorded = json.load(f).get('metrics')
    return recorded if recorded is not None else read_test_metrics(work_dir)


def load_student_config(student_config: str,
                        store: Optional[str] = None,
                        cfg_options: Optional[dict] = None) -> Config:
    """``student_config`` with ``cfg_options`` merged, pointed at the
    pseudo-label ``store`` when one is given."""
    cfg = Config.fromfile(student_config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if store is not None:
        point_at_store(cfg, osp.abspath(store))
    return cfg


def write_student_config(student_config: str,
                         store: str,
                         out: str,
                         cfg_options: Optional[dict] = None,
                         student_init: Optional[str] = None,
                         init_checkpoint: Optional[str] = None) -> str:
    """Dump ``student_config`` (with ``cfg_options`` merged) pointed at the
    pseudo-label ``store`` to ``out``, starting from ``init_checkpoint``
    (``load_from`` with ``resume = False``; None: the config's own init);
    returns ``out``.

    Args:
        student_config (str): The student config.
        store (str): The round's pseudo-label store.
        out (str): Where the config is written.
        cfg_options (dict, optional): Merged into the config. Defaults to
            None.
        student_init (str, optional): The ``student_init`` value recorded
            in the config (``--student-init``). Defaults to None: the
            config's own, else ``'teacher'``.
        init_checkpoint (str, optional): The prepared start weights
            (:func:`~.student_init.prepare_student_init`). Defaults to None.
    """
    cfg = load_student_config(student_config, store, cfg_options)
    try:
        apply_student_init(cfg, student_init_value(cfg, student_init),
                           init_checkpoint)
    except StudentInitError as err:
        raise SelfTrainingError(f'{student_config}: {err}') from None
    os.makedirs(osp.dirname(out), exist_ok=True)
    cfg.dump(out)
    return out


def _prepare_init(student_config, store, cfg_options, source, out, init, name,
                  log) -> None:
    """Write a student's start weights (:func:`~.student_init.\
prepare_student_init`) or raise :class:`SelfTrainingError`."""
    cfg = load_student_config(student_config, store, cfg_options)
    try:
        prepare_student_init(cfg, source, out, init)
    except StudentInitError as err:
        raise SelfTrainingError(f'[{name}] {err}') from None
    log(f'[{name}] start weights written: {out}')


def run_self_training(student_config: str,
                      work_dir: str,
                      unlabeled: str,
                      teacher_config: str,
                      teacher_checkpoint: Optional[str] = None,
                      rounds: int = 1,
                      score_thr: float = 0.5,
                      img_root: Optional[str] = None,
                      launch: Optional[Launch] = None,
                      cfg_options: Optional[dict] = None,
                      student_init: Optional[str] = None,
                      dry_run: bool = False,
                      log=print) -> List[dict]:
    """Teacher -> pseudo labels -> student, ``rounds`` times; the student of
    a round is the teacher of the next (Zoph et al. 2020, Sec. 3).

    Args:
        student_config (str): Student config whose train data has a
            ``PseudoLabelDataset`` (its ``store`` is set per round).
        work_dir (str): Directory of all stages (see module docstring).
        unlabeled (str): Image folder, list file or image-only COCO JSON.
        teacher_config (str): Config of the round-1 teacher.
        teacher_checkpoint (str, optional): Its checkpoint; when None the
            teacher is trained first from ``teacher_config``. Defaults to
            None.
        rounds (int): Self-training rounds K. Defaults to 1.
        score_thr (float): Labeler score floor (the student's
            ``score_thr`` may be higher). Defaults to 0.5 [U].
        img_root (str, optional): ``--img-root`` of the labeler.
            Defaults to None.
        launch (Launch, optional): How stages start. Defaults to one
            process.
        cfg_options (dict, optional): Merged into the student config.
            Defaults to None.
        student_init (str, optional): Where each student starts:
            ``'teacher'`` (its round's teacher's final weights, Zoph et al.
            2020 Sec. 3.2), ``'random'`` (App. C) or a checkpoint path (see
            :mod:`.student_init`). Defaults to None: the student config's
            top-level ``student_init``, else ``'teacher'``.
        dry_run (bool): Print the commands only. Defaults to False.
        log (callable): Where progress lines go. Defaults to print.

    Returns:
        list[dict]: The records written to ``WORK_DIR/rounds.json``.
    """
    if rounds < 1:
        raise SelfTrainingError(f'rounds={rounds}: need at least 1.')
    launch = launch or Launch()
    work_dir = osp.abspath(work_dir)
    # Checked before any stage runs: a bad switch fails in seconds, not
    # after the teacher has trained.
    try:
        cfg = load_student_config(student_config, cfg_options=cfg_options)
        init = student_init_value(cfg, student_init)
        apply_student_init(cfg, init, None)  # refuses a load_from of its own
    except StudentInitError as err:
        raise SelfTrainingError(f'{student_config}: {err}') from None
    records: List[dict] = []
    if teacher_checkpoint is None:
        tdir = osp.join(work_dir, 'teacher')
        stage = _train_stage('teacher', teacher_config, tdir, launch)
        _run(stage, dry_run, log)
        teacher_checkpoint = '<teacher checkpoint>'
        if not dry_run:
            mark_done(stage)
            teacher_checkpoint = final_checkpoint(tdir)
    for r in range(1, rounds + 1):
        rdir = osp.join(work_dir, f'round{r}')
        store = osp.join(rdir, 'labels')
        args = [
            teacher_config, teacher_checkpoint, '--images', unlabeled, '--out',
            store, '--score-thr',
            str(score_thr)
        ]
        if img_root:
            args += ['--img-root', img_root]
        env: Dict[str, str] = {}
        labels = Stage(
            f'round{r}/labels',
            launch.command('pseudo_label', args, env, f'round{r}_labels'),
            osp.join(store, 'meta.json'), env)
        _run(labels, dry_run, log)
        if r == 1:
            teacher_metrics = _evaluate('round1/eval_teacher', teacher_config,
                                        teacher_checkpoint,
                                        osp.join(rdir, 'eval_teacher'), launch,
                                        dry_run, log)
        else:  # the previous round's student, evaluated already
            teacher_metrics = records[-1]['student_metrics'] if records \
                else {}
        cfg_file = osp.join(rdir, 'student_config.py')
        sdir = osp.join(rdir, 'student')
        source = init_source(init, teacher_checkpoint)
        init_file = osp.join(rdir, STUDENT_INIT_FILE) if source else None
        fresh = not osp.isfile(osp.join(sdir, 'last_checkpoint'))
        # A finished student keeps the config it was trained with (a later
        # edit of the student config does not rewrite that record).
        if not osp.exists(osp.join(sdir, DONE_MARKER)):
            log(f'[round{r}/student_init] student_init={init!r}: ' +
                (f'starts from {source} (load_from {init_file}: weights '
                 'only, loss normalization fresh)'
                 if source else "starts from the student config's own init") +
                ('' if fresh else '; resumes its own checkpoint now'))
            if not dry_run:
                if init_file and fresh:  # (--resume drops load_from)
                    _prepare_init(student_config, store, cfg_options, source,
                                  init_file, init, f'round{r}/student_init',
                                  log)
                write_student_config(student_config, store, cfg_file,
                                     cfg_options, init, init_file)
        student = _train_stage(f'round{r}/student', cfg_file, sdir, launch)
        _run(student, dry_run, log)
        ckpt = f'<round{r} student checkpoint>'
        if not dry_run:
            mark_done(student)
            ckpt = final_checkpoint(sdir)
        student_metrics = _evaluate(f'round{r}/eval_student', cfg_file, ckpt,
                                    osp.join(rdir, 'eval_student'), launch,
                                    dry_run, log)
        if not dry_run:
            records.append(
                dict(
                    round=r,
                    teacher_config=teacher_config,
                    teacher_checkpoint=teacher_checkpoint,
                    teacher_metrics=teacher_metrics,
                    store=store,
                    student_init=init,
                    student_init_checkpoint=init_file,
                    student_config=cfg_file,
                    student_checkpoint=ckpt,
                    student_metrics=student_metrics))
            tmp = osp.join(work_dir, ROUNDS_FILE + '.tmp')
            with open(tmp, 'w') as f:
                json.dump(records, f, indent=1)
            os.replace(tmp, osp.join(work_dir, ROUNDS_FILE))
        teacher_config, teacher_checkpoint = cfg_file, ckpt
    return records
