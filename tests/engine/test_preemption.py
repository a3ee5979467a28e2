"""Preemption-safe training: SIGTERM -> checkpoint at the current iteration,
exit code 75, and a restart of the same command that continues exactly;
checkpoints written atomically so that a SIGKILL mid-write never breaks
resume; a 2-process CPU run (torchrun + gloo) that stops together.

The training runs are real ``tools/train.py`` / ``tools/dist_train.sh``
processes on the tiny shapes configs, with ``resume = True`` and the hooks
added by a config that inherits the shapes config (as a user's would).
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import find_latest_checkpoint

import rethink_mmdet  # noqa: F401  (allow-lists checkpoint globals)
from rethink_mmdet.engine.atomic_checkpoint import (AtomicLocalBackend,
                                                    is_complete_checkpoint,
                                                    repair_last_checkpoint)
from rethink_mmdet.engine.preemption import (PREEMPTED_EXIT_CODE,
                                             PreemptionSignals)
from rethink_mmdet.engine.rng_state import (RNG_STATE_KEY, RNGStreams,
                                            get_rng_state, set_rng_state)
from rethink_mmdet.utils import TMP_MARKER, atomic_io
from tests.conftest import (MASK_RCNN, REPO, RETINANET, python_tool, run_tool,
                            short_run_options)

IMPORTS = ['rethink_mmdet', 'rethink_mmdet.engine.runner']
TIMEOUT = 240  # per process; a hang fails the test instead of the suite


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def preemptible_config(tmp_path, base):
    """A user config: the shapes config plus the two documented lines
    (``resume = True`` and the runner), deterministic, without validation."""
    cfg_dir = tmp_path / 'configs'
    cfg_dir.mkdir(exist_ok=True)
    path = cfg_dir / 'preemptible.py'
    path.write_text(
        textwrap.dedent(f'''\
        _base_ = {str(base)!r}
        custom_imports = dict(imports={IMPORTS!r}, allow_failed_imports=False)
        resume = True
        runner_type = 'mmdet.LongRunRunner'
        randomness = dict(seed=0, deterministic=True)
        val_dataloader = None
        val_cfg = None
        val_evaluator = None
        '''))
    return str(path)


def train_options(shapes_root, max_iters, ckpt_interval):
    return [
        o for o in short_run_options(shapes_root, max_iters, ckpt_interval)
        if not o.startswith(('val_', 'test_'))
    ]


def trained_iters(output):
    return [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/', output)]


def checkpoints(work_dir):
    """``{iteration: path}`` of the ``iter_*.pth`` files in ``work_dir``."""
    return {
        int(m.group(1)): work_dir / m.group(0)
        for m in map(
            re.compile(r'iter_(\d+)\.pth').fullmatch, os.listdir(work_dir))
        if m
    }


class Process:
    """A tool run in the background whose output is collected by a thread;
    ``wait_for`` blocks until a line matches."""

    def __init__(self, cmd, env=None):
        full_env = dict(
            os.environ,
            OMP_NUM_THREADS='1',
            PYTHONUNBUFFERED='1',
            PYTHON=sys.executable)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True)
        self.lines = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self):
        return ''.join(self.lines)

    def wait_for(self, pattern, timeout=TIMEOUT):
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                if any(regex.search(line) for line in self.lines):
                    return
                if not self._reader.is_alive() or time.monotonic() > end:
                    pytest.fail(f'{pattern!r} never appeared:\n'
                                f'{self.output[-6000:]}')
                self._changed.wait(1)

    def finish(self, timeout=TIMEOUT):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f'still running after {timeout} s (hang):\n'
                        f'{self.output[-6000:]}')
        self._reader.join(10)
        return self.proc.returncode

    def processes(self):
        """Pids of this run's processes: the one it started and every
        descendant seen so far (remembered, so that a worker reparented
        after its parent died is still known)."""
        self.pids = getattr(self, 'pids', {self.proc.pid})
        self.pids |= descendants(self.pids)
        return set(self.pids)

    def kill(self):
        """SIGKILL exactly the processes this run started, by pid."""
        pids = self.processes()
        if self.proc.poll() is not None:  # reaped: its pid may be reused
            pids.discard(self.proc.pid)
        for pid in alive(pids):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()


def _parents():
    """``{pid: parent pid}`` of every process, from /proc."""
    parents = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        parents[int(pid)] = int(stat.rsplit(')', 1)[1].split()[1])
    return parents


def descendants(roots):
    """Pids of the living descendants of the processes ``roots``."""
    parents = _parents()
    found, frontier = set(), set(roots)
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pids):
    """The pids of ``pids`` that still run (zombies count as gone)."""
    running = set()
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if state != 'Z':
            running.add(pid)
    return running


def processes_with(text, pids):
    """``{pid: (cmdline, environ)}`` of the processes of ``pids`` whose
    command line contains ``text``."""
    found = {}
    for pid in pids:
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmdline = f.read().decode(errors='replace')
            with open(f'/proc/{pid}/environ', 'rb') as f:
                environ = dict(
                    kv.split('=', 1)
                    for kv in f.read().decode(errors='replace').split('\0')
                    if '=' in kv)
        except OSError:
            continue
        if text in cmdline:
            found[pid] = cmdline, environ
    return found


def assert_same_training_state(expected, actual):
    """Weights, optimizer state and LR schedule of two checkpoints are
    bitwise equal."""
    a = torch.load(expected, weights_only=True)
    b = torch.load(actual, weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter']
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differ = [
        k for k in a['state_dict']
        if not torch.equal(a['state_dict'][k], b['state_dict'][k])
    ]
    assert not differ, f'{len(differ)} weights differ, e.g. {differ[:3]}'
    state_a, state_b = a['optimizer']['state'], b['optimizer']['state']
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        for name, value in state_a[key].items():
            assert torch.equal(value, state_b[key][name]), (key, name)
    assert a['param_schedulers'] == b['param_schedulers']


# -- atomic writes and last_checkpoint ----------------------------------------


def test_atomic_backend_replaces_whole_file_or_nothing(tmp_path, monkeypatch):
    backend = get_file_backend(
        str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'sub' / 'iter_1.pth'
    backend.put(b'old', target)
    assert target.read_bytes() == b'old'

    # A writer killed before its rename leaves the old content in place and
    # its partial data only under a hidden temporary name.
    def killed(tmp, dst):
        assert open(tmp, 'rb').read() == b'new content'
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_io, '_commit', killed)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new content', target)
    assert target.read_bytes() == b'old'
    assert os.listdir(target.parent) == ['iter_1.pth']  # temp file removed

    monkeypatch.undo()
    backend.put_text('text', target)
    assert target.read_text() == 'text'
    assert os.listdir(target.parent) == ['iter_1.pth']


def test_repair_last_checkpoint_picks_newest_complete(tmp_path):

    def save(name, mtime):
        path = tmp_path / name
        torch.save({'meta': {'iter': 1}}, path)
        os.utime(path, ns=(mtime, mtime))
        return str(path)

    old = save('iter_2.pth', 1_000_000_000)
    new = save('iter_4.pth', 2_000_000_000)
    pointer = tmp_path / 'last_checkpoint'
    # a truncated checkpoint (written in place by a non-atomic backend)
    truncated = tmp_path / 'iter_6.pth'
    truncated.write_bytes(open(new, 'rb').read()[:-100])
    os.utime(truncated, ns=(3_000_000_000, 3_000_000_000))
    assert is_complete_checkpoint(new) and not is_complete_checkpoint(
        str(truncated))
    temp = tmp_path / f'.iter_8.pth{TMP_MARKER}1-abc'
    temp.write_bytes(b'partial')

    # 1. pointer cut short by a kill -> newest complete checkpoint
    pointer.write_text('')
    assert repair_last_checkpoint(str(tmp_path)) == new
    assert find_latest_checkpoint(str(tmp_path)) == new
    assert not temp.exists()
    # 2. pointer to the truncated file -> newest complete checkpoint
    pointer.write_text(str(truncated))
    assert repair_last_checkpoint(str(tmp_path)) == new
    # 3. a valid pointer is kept, unless a newer checkpoint was completed
    #    after it (killed between the checkpoint and the pointer update)
    pointer.write_text(new)
    assert repair_last_checkpoint(str(tmp_path)) == new
    pointer.write_text(old)
    assert repair_last_checkpoint(str(tmp_path)) == new
    os.utime(new, ns=(500, 500))  # the pointer's target is the newest
    pointer.write_text(old)
    assert repair_last_checkpoint(str(tmp_path)) == old
    # 4. nothing complete -> no pointer: a fresh start
    os.remove(old)
    os.remove(new)
    pointer.write_text(str(truncated))
    assert repair_last_checkpoint(str(tmp_path)) is None
    assert find_latest_checkpoint(str(tmp_path)) is None


# -- random states ------------------------------------------------------------


def draws():
    return (random.random(), float(np.random.rand()), torch.rand(1).item())


def test_rng_state_survives_weights_only_checkpoint(tmp_path):
    state = get_rng_state()
    expected = draws()
    torch.save({RNG_STATE_KEY: state}, tmp_path / 'ckpt.pth')
    draws()
    set_rng_state(
        torch.load(tmp_path / 'ckpt.pth', weights_only=True)[RNG_STATE_KEY])
    assert draws() == expected


def test_rng_streams_restore_only_a_resume_at_the_checkpoint():
    """The stored states are restored when the run resumes at the
    checkpoint's iteration, once; not for ``load_from`` (iteration 0)."""

    class Logger:
        warning = print

    stored = get_rng_state()
    expected = draws()
    checkpoint = {
        RNG_STATE_KEY: dict(world_size=1, ranks=[stored]),
        'meta': dict(iter=3)
    }
    streams = RNGStreams()
    streams.loaded(checkpoint)
    streams.prepare_resume(0, Logger())  # load_from: a fresh run
    assert not streams.restore_pending()
    streams.loaded(checkpoint)
    streams.prepare_resume(3, Logger())
    assert streams.restore_pending() and not streams.restore_pending()
    assert draws() == expected
    strict = RNGStreams(strict=True)
    strict.loaded({'meta': dict(iter=3)})
    with pytest.raises(RuntimeError, match='strict=False'):
        strict.prepare_resume(3, Logger())


def test_rng_streams_keep_validation_out_of_training_streams():
    streams = RNGStreams()
    state = get_rng_state()
    expected = draws()  # what training draws next without a validation
    set_rng_state(state)
    streams.set_aside()
    draws()  # validation consumes random numbers
    streams.put_back()
    assert draws() == expected


def test_removed_hooks_name_the_runner():
    from mmdet.registry import HOOKS
    for name in ('PreemptionCheckpointHook', 'RNGStateHook'):
        with pytest.raises(RuntimeError, match='mmdet.LongRunRunner'):
            HOOKS.build(dict(type=name))


# -- signal handlers ----------------------------------------------------------


def test_handler_before_and_after_a_run_and_workers_ignore(tmp_path):
    """Built, before any run (a job signalled while it starts), SIGTERM
    exits with 75 at once; after a run the previous handler is back;
    dataloader workers, which inherit the handlers, ignore the signal
    (clusters signal every process)."""
    script = tmp_path / 'unarmed.py'
    script.write_text(
        textwrap.dedent('''\
        import os, signal, sys, time
        import torch
        from torch.utils.data import DataLoader, Dataset
        from rethink_mmdet.engine.preemption import PreemptionSignals

        class SelfSignalling(Dataset):
            def __len__(self):
                return 2
            def __getitem__(self, i):
                os.kill(os.getpid(), signal.SIGTERM)  # a worker is signalled
                time.sleep(0.2)
                return i

        signal.signal(signal.SIGTERM,
                      lambda *a: print('previous handler', flush=True))
        handlers = PreemptionSignals()
        assert signal.getsignal(signal.SIGTERM) == handlers.handle
        items = [int(x) for x in DataLoader(SelfSignalling(), num_workers=1)]
        print('workers survived', items, flush=True)
        handlers.disarm()  # a run that was not preempted ends
        os.kill(os.getpid(), signal.SIGTERM)
        PreemptionSignals()  # a new run starts
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
        print('not exited', flush=True)
        '''))
    proc = subprocess.run([sys.executable, str(script)],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert 'workers survived [0, 1]' in proc.stdout, proc.stderr[-3000:]
    assert 'previous handler' in proc.stdout
    assert 'not exited' not in proc.stdout
    assert proc.returncode == PREEMPTED_EXIT_CODE, proc.stderr[-3000:]
    assert 'SIGTERM before training started' in proc.stderr


def test_unknown_signal_name_is_an_explicit_error():
    with pytest.raises(ValueError, match='SIGNOPE'):
        PreemptionSignals(signals=('SIGNOPE', ))


# -- real training runs -------------------------------------------------------


def test_sigterm_then_restart_equals_uninterrupted_run(shapes_root, tmp_path):
    """Mask R-CNN (random proposal sampling in the model, random flips in
    the pipeline): SIGTERM in iteration 2 -> checkpoint, exit 75; the same
    command again -> the same final weights as a run never stopped."""
    cfg = preemptible_config(tmp_path, MASK_RCNN)
    opts = train_options(shapes_root, max_iters=6, ckpt_interval=100)
    reference = tmp_path / 'uninterrupted'
    run_tool(
        python_tool('train.py', cfg, '--work-dir', reference, '--cfg-options',
                    *opts))

    work_dir = tmp_path / 'preempted'
    cmd = python_tool('train.py', cfg, '--work-dir', work_dir, '--cfg-options',
                      *opts)
    run = Process(cmd)
    try:
        run.wait_for(r'Iter\(train\) \[\s*2/6\]')
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish() == PREEMPTED_EXIT_CODE, run.output[-6000:]
    finally:
        run.kill()
    assert 'Preemption requested (SIGTERM)' in run.output
    ckpts = checkpoints(work_dir)
    assert len(ckpts) == 1, ckpts
    (stopped_at, ckpt), = ckpts.items()
    assert 2 <= stopped_at < 6
    assert trained_iters(run.output)[-1] == stopped_at
    assert find_latest_checkpoint(str(work_dir)) == str(ckpt)
    assert RNG_STATE_KEY in torch.load(ckpt, weights_only=True)

    out = run_tool(cmd)
    assert f'resumed epoch: 0, iter: {stopped_at}' in out
    assert trained_iters(out) == list(range(stopped_at + 1, 7))
    assert_same_training_state(reference / 'iter_6.pth',
                               work_dir / 'iter_6.pth')


SLOW_COMMIT = textwrap.dedent('''\
    """Test instrumentation: tools/train.py whose atomic checkpoint write of
    {name} stops between writing the temporary file and renaming it."""
    import runpy
    import sys
    import time

    from rethink_mmdet.utils import atomic_io

    commit = atomic_io._commit


    def slow_commit(tmp_path, filepath):
        if filepath.endswith('/{name}'):
            print('WRITING', filepath, flush=True)
            time.sleep(600)
        commit(tmp_path, filepath)


    atomic_io._commit = slow_commit
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
    ''')


def test_sigkill_during_checkpoint_write_leaves_resume_working(
        shapes_root, tmp_path):
    """A run killed while writing iter_4.pth: resume picks iter_2.pth (the
    newest complete checkpoint), never the partial file."""
    cfg = preemptible_config(tmp_path, RETINANET)
    opts = train_options(shapes_root, max_iters=4, ckpt_interval=2)
    work_dir = tmp_path / 'killed'
    wrapper = tmp_path / 'slow_commit_train.py'
    wrapper.write_text(SLOW_COMMIT.format(name='iter_4.pth'))
    cmd = python_tool('train.py', cfg, '--work-dir', work_dir, '--cfg-options',
                      *opts)
    run = Process([sys.executable, str(wrapper), *cmd[1:]])
    try:
        run.wait_for('WRITING .*iter_4.pth')
        os.killpg(run.proc.pid, signal.SIGKILL)
        assert run.finish() == -signal.SIGKILL
    finally:
        run.kill()
    names = os.listdir(work_dir)
    assert sorted(checkpoints(work_dir)) == [2]
    partial = [n for n in names if n.startswith('.iter_4.pth')]
    assert len(partial) == 1, names  # the data is only under a temp name
    assert find_latest_checkpoint(str(work_dir)) == str(work_dir /
                                                        'iter_2.pth')

    out = run_tool(cmd)  # the same command, not instrumented
    assert 'resumed epoch: 0, iter: 2' in out
    assert trained_iters(out) == [3, 4]
    assert not (work_dir / partial[0]).exists()
    assert is_complete_checkpoint(str(work_dir / 'iter_4.pth'))


PAUSE_AT_SAVE = textwrap.dedent('''\
    """Test instrumentation: rank 0 pauses in before_save_checkpoint (in
    the middle of writing a checkpoint) until the file named by
    $PAUSE_GO_FILE exists; inactive without that variable."""
    import os
    import time

    from mmengine.hooks import Hook

    from mmdet.registry import HOOKS


    @HOOKS.register_module()
    class PauseAtSave(Hook):

        def before_save_checkpoint(self, runner, checkpoint):
            go = os.environ.get('PAUSE_GO_FILE')
            if go and not os.path.exists(go):
                print('SAVING', checkpoint['meta']['iter'], flush=True)
                end = time.monotonic() + 120
                while not os.path.exists(go) and time.monotonic() < end:
                    time.sleep(0.05)
    ''')


def test_two_rank_preemption_second_sigterm_and_exact_resume(
        shapes_root, tmp_path):
    """tools/dist_train.sh with 2 CPU processes, random flips drawn from a
    different seed on each rank. SIGTERM reaches rank 1 only: both ranks
    stop at the same iteration. While rank 0 writes the checkpoint, both
    ranks get SIGTERM again (twice): nobody hangs in a collective, both
    exit with 75, and the checkpoint holds both ranks' random states. The
    restart ends with the weights of an uninterrupted 2-process run."""
    (tmp_path / 'pause_at_save.py').write_text(PAUSE_AT_SAVE)
    base = preemptible_config(tmp_path, RETINANET)
    cfg = tmp_path / 'configs' / 'paused.py'
    cfg.write_text(
        textwrap.dedent(f'''\
        _base_ = {base!r}
        custom_imports = dict(imports={IMPORTS + ['pause_at_save']!r},
                              allow_failed_imports=False)
        custom_hooks = [dict(type='PauseAtSave')]
        randomness = dict(seed=0, deterministic=True, diff_rank_seed=True)
        '''))
    opts = train_options(shapes_root, max_iters=6, ckpt_interval=100)

    def dist_train(work_dir):
        return [
            'bash', f'{REPO}/tools/dist_train.sh',
            str(cfg), '2', '--work-dir',
            str(work_dir), '--cfg-options', *opts
        ]

    env = {'PYTHONPATH': f'{tmp_path}:{REPO}'}
    reference = Process(
        dist_train(tmp_path / 'reference'),
        env=dict(env, PORT=str(free_port())))
    work_dir, go = tmp_path / 'dist', tmp_path / 'go'
    run = Process(
        dist_train(work_dir),
        env=dict(env, PORT=str(free_port()), PAUSE_GO_FILE=str(go)))
    try:
        run.wait_for(r'Iter\(train\) \[\s*2/6\]')
        workers = {
            int(env['RANK']): pid
            for pid, (
                _,
                env) in processes_with(str(work_dir), run.processes()).items()
            if 'TORCHELASTIC_RUN_ID' in env and 'RANK' in env
        }
        assert sorted(workers) == [0, 1], workers
        os.kill(workers[1], signal.SIGTERM)
        run.wait_for(r'^SAVING \d+')
        for _ in range(2):  # while the first signal is being handled
            for pid in workers.values():
                os.kill(pid, signal.SIGTERM)
            time.sleep(0.3)
        go.touch()
        returncode = run.finish()
        assert reference.finish() == 0, reference.output[-6000:]
    finally:
        run.kill()
        reference.kill()
    out = run.output
    # torchrun reports each worker's exit status and exits non-zero itself
    assert returncode != 0
    exit_codes = {
        int(rank): int(code)
        for rank, code in re.findall(
            r'rank\s*: (\d+) \(local_rank: \d+\)\s+exitcode\s*: (-?\d+)', out)
    }
    assert exit_codes == {
        0: PREEMPTED_EXIT_CODE,
        1: PREEMPTED_EXIT_CODE
    }, out[-6000:]
    # rank 0 got no signal before: it stopped because the ranks agreed
    assert 'Preemption requested (a signal on another rank)' in out
    assert out.count('Preemption requested') == 1
    ckpts = checkpoints(work_dir)
    assert len(ckpts) == 1, ckpts
    (stopped_at, ckpt), = ckpts.items()
    assert find_latest_checkpoint(str(work_dir)) == str(ckpt)
    states = torch.load(ckpt, weights_only=True)[RNG_STATE_KEY]
    assert states['world_size'] == 2 and len(states['ranks']) == 2
    assert not torch.equal(states['ranks'][0]['numpy']['keys'],
                           states['ranks'][1]['numpy']['keys'])

    out = run_tool(dist_train(work_dir), env=dict(env, PORT=str(free_port())))
    assert f'resumed epoch: 0, iter: {stopped_at}' in out
    assert trained_iters(out) == list(range(stopped_at + 1, 7))
    assert_same_training_state(tmp_path / 'reference' / 'iter_6.pth',
                               work_dir / 'iter_6.pth')


PAUSE_IN_VALIDATION = textwrap.dedent('''\
    """Test instrumentation: every rank pauses before its first validation
    batch until the file named by $PAUSE_GO_FILE exists; inactive without
    that variable."""
    import os
    import time

    from mmengine.hooks import Hook

    from mmdet.registry import HOOKS


    @HOOKS.register_module()
    class PauseInValidation(Hook):

        def before_val_iter(self, runner, batch_idx, data_batch=None):
            go = os.environ.get('PAUSE_GO_FILE')
            if go and batch_idx == 0 and not os.path.exists(go):
                print(f'VALIDATING rank {runner.rank}', flush=True)
                end = time.monotonic() + 120
                while not os.path.exists(go) and time.monotonic() < end:
                    time.sleep(0.05)
    ''')


def test_two_rank_preemption_during_validation(shapes_root, tmp_path):
    """2 CPU processes validate at iteration 2 (each rank half of the val
    set); SIGTERM reaches rank 1 only, inside its validation: both ranks
    stop in that validation (the decision is agreed after each validation
    batch), write the checkpoint of iteration 2 once and exit 75; the
    restart ends with the weights of an uninterrupted 2-process run."""
    (tmp_path / 'pause_in_val.py').write_text(PAUSE_IN_VALIDATION)
    cfg = tmp_path / 'configs' / 'validating.py'
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(
        textwrap.dedent(f'''\
        _base_ = {RETINANET!r}
        custom_imports = dict(imports={IMPORTS + ['pause_in_val']!r},
                              allow_failed_imports=False)
        resume = True
        runner_type = 'mmdet.LongRunRunner'
        custom_hooks = [dict(type='PauseInValidation')]
        randomness = dict(seed=0, deterministic=True, diff_rank_seed=True)
        '''))
    opts = [
        o for o in short_run_options(shapes_root, 4, 100)
        if not o.startswith('train_cfg.val_interval')
    ] + ['train_cfg.val_interval=2']

    def dist_train(work_dir):
        return [
            'bash', f'{REPO}/tools/dist_train.sh',
            str(cfg), '2', '--work-dir',
            str(work_dir), '--cfg-options', *opts
        ]

    env = {'PYTHONPATH': f'{tmp_path}:{REPO}'}
    reference = Process(
        dist_train(tmp_path / 'reference'),
        env=dict(env, PORT=str(free_port())))
    work_dir, go = tmp_path / 'dist', tmp_path / 'go'
    run = Process(
        dist_train(work_dir),
        env=dict(env, PORT=str(free_port()), PAUSE_GO_FILE=str(go)))
    try:
        run.wait_for(r'VALIDATING rank 1')
        run.wait_for(r'VALIDATING rank 0')
        workers = {
            int(env['RANK']): pid
            for pid, (
                _,
                env) in processes_with(str(work_dir), run.processes()).items()
            if 'TORCHELASTIC_RUN_ID' in env and 'RANK' in env
        }
        assert sorted(workers) == [0, 1], workers
        os.kill(workers[1], signal.SIGTERM)
        time.sleep(0.3)
        go.touch()
        returncode = run.finish()
        assert reference.finish() == 0, reference.output[-6000:]
    finally:
        run.kill()
        reference.kill()
    out = run.output
    assert returncode != 0
    exit_codes = {
        int(rank): int(code)
        for rank, code in re.findall(
            r'rank\s*: (\d+) \(local_rank: \d+\)\s+exitcode\s*: (-?\d+)', out)
    }
    assert exit_codes == {
        0: PREEMPTED_EXIT_CODE,
        1: PREEMPTED_EXIT_CODE
    }, out[-6000:]
    assert 'Preemption requested (a signal on another rank)' in out
    assert 'bbox_mAP' not in out  # the interrupted validation never ended
    ckpts = checkpoints(work_dir)
    assert list(ckpts) == [2], ckpts
    saved = torch.load(ckpts[2], weights_only=True)
    assert saved['meta']['iter'] == 2
    assert len(saved[RNG_STATE_KEY]['ranks']) == 2

    out = run_tool(dist_train(work_dir), env=dict(env, PORT=str(free_port())))
    assert 'resumed epoch: 0, iter: 2' in out
    assert trained_iters(out) == [3, 4]
    assert_same_training_state(tmp_path / 'reference' / 'iter_4.pth',
                               work_dir / 'iter_4.pth')


def test_sigterm_to_torchrun_stops_workers_cleanly(shapes_root, tmp_path):
    """SIGTERM to torchrun (``tools/dist_train.sh``): torchrun forwards it to
    both workers, which checkpoint once and exit before torchrun's 30 s
    SIGKILL deadline."""
    cfg = preemptible_config(tmp_path, RETINANET)
    opts = train_options(shapes_root, max_iters=6, ckpt_interval=100)
    work_dir = tmp_path / 'dist'
    cmd = [
        'bash', f'{REPO}/tools/dist_train.sh', cfg, '2', '--work-dir',
        str(work_dir), '--cfg-options', *opts
    ]
    run = Process(cmd, env={'PORT': str(free_port())})
    try:
        run.wait_for(r'Iter\(train\) \[\s*2/6\]')
        torchrun = [
            pid for pid, (
                cmdline,
                env) in processes_with(str(work_dir), run.processes()).items()
            if 'TORCHELASTIC_RUN_ID' not in env
            and 'torch.distributed.run' in cmdline
        ]
        assert len(torchrun) == 1, torchrun
        os.kill(torchrun[0], signal.SIGTERM)
        started = run.processes()
        run.finish()
        leftover = alive(started | descendants(started))
    finally:
        run.kill()
    out = run.output
    assert not leftover, leftover
    assert 'forcefully exiting via' not in out  # torchrun had to SIGKILL
    assert out.count('Preemption requested (SIGTERM)') == 1, out[-6000:]
    assert f'Exiting with code {PREEMPTED_EXIT_CODE}' in out
    ckpts = checkpoints(work_dir)
    assert len(ckpts) == 1, ckpts
    assert find_latest_checkpoint(str(work_dir)) == str(*ckpts.values())
