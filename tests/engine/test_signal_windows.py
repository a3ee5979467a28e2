"""No preemption signal is lost, whatever the run is doing when it comes.

Each window is a real training run of the tiny shapes RetinaNet (real
Runner, real hooks, real files), in this process to keep the test fast; the
signal is a real ``SIGTERM`` that an instrumentation hook sends to its own
process at the runner event of the window. Every case must end with
``SystemExit(75)``, a checkpoint of the trained iteration where one is due,
and a restart that ends with the weights of a run never stopped. The
multi-process windows (a second SIGTERM while the first is handled, every
rank's random states) are in ``test_preemption.py``.
"""
import argparse
import itertools
import os
import re
import signal
import subprocess
import time

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import CheckpointHook, Hook

import rethink_mmdet  # noqa: F401  (registers the hooks and loops)
from mmdet.registry import HOOKS, RUNNERS
from rethink_mmdet.engine.launch import load_config
from rethink_mmdet.engine.preemption import PREEMPTED_EXIT_CODE
from tests.conftest import RETINANET, python_tool, short_run_options
from tests.engine.test_preemption import assert_same_training_state

MAX_ITERS = 4
VAL_INTERVAL = 2
_names = itertools.count()
#: ``after_val_epoch`` events seen by :class:`SignalAt` (a finished
#: validation).
VALIDATIONS_FINISHED = []


@HOOKS.register_module(force=True)
class SignalAt(Hook):
    """Test instrumentation: send ``SIGTERM`` to this process at the first
    runner event ``event`` (after ``skip`` earlier ones); ``event='init'``
    sends it while the runner builds its hooks."""

    priority = 'HIGHEST'

    def __init__(self, event, skip=0):
        self.remaining = skip
        self.fired = False
        if event == 'init':
            self._fire()
        else:
            setattr(self, event, self._on_event)

    def _fire(self):
        if self.remaining == 0 and not self.fired:
            self.fired = True
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            self.remaining -= 1

    def _on_event(self, *args, **kwargs):
        self._fire()

    def after_val_epoch(self, runner, metrics=None):
        VALIDATIONS_FINISHED.append(runner.iter)


@HOOKS.register_module(force=True)
class StepCheckpointHook(CheckpointHook):
    """A user's own checkpoint hook: zero-padded names and a tag in the
    meta of every checkpoint it writes."""

    def __init__(self, **kwargs):
        kwargs.setdefault('filename_tmpl', 'step_{:06d}.pth')
        super().__init__(**kwargs)

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint['meta']['written_by'] = type(self).__name__


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """In-process runs change the process's handlers: put them back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def options(shapes_root, ckpt_interval):
    opts = [
        o for o in short_run_options(shapes_root, MAX_ITERS, ckpt_interval)
        if not o.startswith('train_cfg.val_interval')
    ] + [f'train_cfg.val_interval={VAL_INTERVAL}']
    parsed = argparse.Namespace()
    DictAction(option_strings=[], dest='o')(None, parsed, opts)
    return parsed.o


def run_config(shapes_root,
               work_dir,
               hooks=(),
               ckpt_interval=100,
               validate=False):
    """The shapes RetinaNet made preemptible (resume, LongRunRunner), plus
    instrumentation ``hooks``; with ``validate``, validation at iterations
    2 and 4 (it does not change the training: LongRunRunner sets the
    training streams aside)."""
    cfg = Config.fromfile(RETINANET)
    cfg.merge_from_dict(options(shapes_root, ckpt_interval))
    if not validate:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'signal_windows_{next(_names)}'
    cfg.resume = True
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.runner_type = 'mmdet.LongRunRunner'
    cfg.custom_hooks = list(hooks)
    return cfg


def train(cfg):
    """``runner.train()``; returns the exit code it asks for (0: none)."""
    try:
        RUNNERS.build(cfg).train()
    except SystemExit as exc:
        return exc.code
    return 0


def names(work_dir, pattern=r'(iter|step)_\d+\.pth'):
    return sorted(n for n in os.listdir(work_dir) if re.fullmatch(pattern, n))


@pytest.fixture(scope='module')
def reference(shapes_root, tmp_path_factory):
    """The final checkpoint of the run never stopped."""
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    assert train(run_config(shapes_root, work_dir)) == 0
    return work_dir / f'iter_{MAX_ITERS}.pth'


def test_signal_during_validation(shapes_root, tmp_path, reference):
    """SIGTERM in the validation at iteration 2: the validation stops, the
    checkpoint of iteration 2 is written, exit 75; the restart resumes at
    iteration 2 and ends equal to the uninterrupted run."""
    hooks = [dict(type='SignalAt', event='before_val_iter')]
    VALIDATIONS_FINISHED.clear()
    cfg = run_config(shapes_root, tmp_path, hooks, validate=True)
    assert train(cfg) == PREEMPTED_EXIT_CODE
    assert VALIDATIONS_FINISHED == []  # stopped inside the validation
    assert names(tmp_path) == ['iter_2.pth']
    ckpt = torch.load(tmp_path / 'iter_2.pth', weights_only=True)
    assert ckpt['meta']['iter'] == VAL_INTERVAL
    assert train(run_config(shapes_root, tmp_path)) == 0
    assert_same_training_state(reference, tmp_path / 'iter_4.pth')


def test_signal_while_a_checkpoint_is_written(shapes_root, tmp_path,
                                              reference):
    """SIGTERM while CheckpointHook writes iter_2.pth: that checkpoint is
    the preemption checkpoint (no second one), exit 75, exact resume."""
    hooks = [dict(type='SignalAt', event='before_save_checkpoint')]
    code = train(run_config(shapes_root, tmp_path, hooks, ckpt_interval=2))
    assert code == PREEMPTED_EXIT_CODE
    assert names(tmp_path) == ['iter_2.pth']
    assert train(run_config(shapes_root, tmp_path, ckpt_interval=2)) == 0
    assert_same_training_state(reference, tmp_path / 'iter_4.pth')


def test_signal_after_start_before_first_iteration(shapes_root, tmp_path):
    """SIGTERM after the run started (before_train: the checkpoint is
    loaded, the loop is starting): exit 75 without training an iteration
    or writing a checkpoint."""
    hooks = [dict(type='SignalAt', event='before_train')]
    runner = RUNNERS.build(run_config(shapes_root, tmp_path, hooks))
    with pytest.raises(SystemExit) as exc:
        runner.train()
    assert exc.value.code == PREEMPTED_EXIT_CODE
    assert runner.iter == 0  # counts trained iterations
    assert names(tmp_path) == []


def test_signal_while_the_runner_is_built(shapes_root, tmp_path):
    """SIGTERM while the tool builds the runner, before the runner installs
    its handlers (``launch.load_config`` set the start-up handlers): exit
    75."""
    cfg_path = tmp_path / 'preemptible.py'
    cfg_path.write_text(f"_base_ = {RETINANET!r}\n"
                        "runner_type = 'mmdet.LongRunRunner'\n"
                        'custom_hooks = []\n')
    args = argparse.Namespace(
        config=str(cfg_path),
        work_dir=str(tmp_path / 'work'),
        cfg_options=options(shapes_root, 100),
        launcher='none',
        local_rank=0)
    cfg = load_config(args)
    cfg.experiment_name = f'signal_windows_{next(_names)}'
    cfg.custom_hooks.insert(0, dict(type='SignalAt', event='init'))
    with pytest.raises(SystemExit) as exc:
        RUNNERS.build(cfg)
    assert exc.value.code == PREEMPTED_EXIT_CODE
    assert names(tmp_path / 'work') == []


@pytest.mark.parametrize('preemptible', [True, False])
def test_signal_during_the_imports(shapes_root, tmp_path, preemptible):
    """SIGTERM one second after ``python tools/train.py`` starts, while it
    imports torch, mmengine and mmdet (seconds): held until the config is
    loaded; a preemptible config then exits 75 with nothing written, a
    plain one dies of the signal (-SIGTERM, shell status 143) as it would
    without the holder. (Should the imports end within the second, the
    start-up handlers give the same two outcomes.)"""
    cfg_path = tmp_path / 'cfg.py'
    hooks = ("runner_type = 'mmdet.LongRunRunner'\n" if preemptible else '')
    cfg_path.write_text(f'_base_ = {RETINANET!r}\n{hooks}')
    work = tmp_path / 'work'
    proc = subprocess.Popen(
        python_tool('train.py', cfg_path, '--work-dir', work, '--cfg-options',
                    *short_run_options(shapes_root, 4, 100)),
        env=dict(os.environ, OMP_NUM_THREADS='1'),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    if preemptible:
        assert proc.returncode == PREEMPTED_EXIT_CODE, err[-3000:]
        assert 'SIGTERM before training started' in err
    else:
        assert proc.returncode == -signal.SIGTERM, err[-3000:]
    assert not work.exists() or not list(work.glob('*.pth'))


def test_users_checkpoint_hook_subclass(shapes_root, tmp_path, reference):
    """A user's CheckpointHook subclass as default_hooks.checkpoint: the
    preemption checkpoint is written through it (its names, its meta), and
    the restart resumes from it and ends equal to the uninterrupted run."""

    def config(hooks=()):
        cfg = run_config(shapes_root, tmp_path, hooks)
        cfg.default_hooks.checkpoint = dict(
            type='StepCheckpointHook', by_epoch=False, interval=100)
        return cfg

    hooks = [dict(type='SignalAt', event='after_train_iter')]
    assert train(config(hooks)) == PREEMPTED_EXIT_CODE
    assert names(tmp_path) == ['step_000001.pth']
    ckpt = torch.load(tmp_path / 'step_000001.pth', weights_only=True)
    assert ckpt['meta']['written_by'] == 'StepCheckpointHook'
    assert (tmp_path /
            'last_checkpoint').read_text().endswith('step_000001.pth')
    assert train(config()) == 0
    assert_same_training_state(reference, tmp_path / 'step_000004.pth')


def test_plain_epoch_loop_is_refused_with_the_fix(shapes_root, tmp_path):
    cfg = run_config(shapes_root, tmp_path)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(RuntimeError, match='ResumableEpochBasedTrainLoop'):
        RUNNERS.build(cfg).train()
