"""The stages of :mod:`.rounds` (Zoph et al. 2020, Sec. 3: teacher ->
pseudo labels -> student, per round): each an ordinary tool of this package
(``tools/train.py``, ``tools/test.py``, ``tools/pseudo_label.py``, or
their ``dist_`` / ``slurm_`` launchers) started as a command, with a
completion marker on disk, so that rerunning the same command skips
finished stages and resumes an interrupted one.
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

__all__ = [
    'DONE_MARKER', 'LAUNCHERS', 'TOOLS', 'tools_dir', 'add_stage_launch_args',
    'SelfTrainingError', 'Launch', 'Stage', 'final_checkpoint',
    'read_test_metrics', 'mark_done', 'run_stage', 'train_stage', 'evaluate'
]

#: File written into a stage's directory once the stage has finished.
DONE_MARKER = 'stage_done.json'
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


def run_stage(stage: Stage, dry_run: bool, log) -> None:
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


def train_stage(name, config, work_dir, launch, extra=()) -> Stage:
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


def evaluate(name, config, ckpt, work_dir, launch, dry_run, log) -> dict:
    """The metrics of ``ckpt`` on ``config``'s test split: the training's
    own validation after that iteration when it is the same evaluation
    (:mod:`.final_validation`), else a ``tools/test.py`` stage."""
    stage = _eval_stage(name, config, ckpt, work_dir, launch)
    if dry_run:
        run_stage(stage, dry_run, log)
        return {}
    if stage.finished:
        run_stage(stage, dry_run, log)  # says it is skipped
    else:
        reused = final_validation_metrics(Config.fromfile(config), ckpt)
        if reused is not None:
            log(f'[{name}] the training validated {ckpt} on the test split '
                f'with the test metric right after that iteration ({reused[1]}'
                '): its metrics are the evaluation, tools/test.py not run')
            mark_done(stage, dict(metrics=reused[0], source=reused[1]))
            return reused[0]
        run_stage(stage, dry_run, log)
        mark_done(stage)
    with open(stage.done) as f:
        recorded = json.load(f).get('metrics')
    return recorded if recorded is not None else read_test_metrics(work_dir)
