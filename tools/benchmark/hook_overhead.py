"""Step time of a He et al. 2019 config with all of rethink_mmdet's hooks
vs the same model with none of them, side by side in one process.

"With" is the He et al. scratch runtime (``configs/_base_/
he-scratch_runtime.py``): its ``custom_hooks`` (ScratchGuardHook,
ScratchInitHook, SyncBNGuardHook, ImagesSeenHook, whatever the fragment
lists), its ``runner_type`` (``LongRunRunner``: preemption, every rank's
random states) and its atomically written iteration checkpoints
(``backend_args=dict(backend='atomic_local')``). "Without" is the same
config with ``custom_hooks = []``, mmengine's plain ``Runner`` and
``CheckpointHook``. Both train the same model (default: the tiny GN-all
Mask R-CNN shapes config) on the same generated data from the same seed;
checkpoints are scheduled after the timed iterations in both, so the figure
is the per-iteration cost (a save costs what the checkpoint costs).

The two variants run side by side and take turns *iteration by iteration*:
both Runners are built in this process, the one without our hooks trains
in a second thread, and a turnstile hook at the end of every iteration
hands the turn to the other runner (only one computes at any time). The
runner without hooks starts from the weights the other one starts from
(copied after ScratchInitHook's He init in ``before_train``), so both do the
same arithmetic on the same values. Each iteration is timed from the
moment its runner gets the turn (data loading included) to the end of its
last hook. Adjacent iterations of the two
variants form a pair, so the load of a shared machine, which drifts over
seconds, hits both alike; the figure is the median of the per-pair ratios,
pooled over ``--rounds`` rounds (each with freshly built runners).
Also printed: the median and quartiles of each variant's iteration times,
and the time spent inside our hooks' own methods per iteration (measured
directly, free of the machine's noise). Example (2 shared cores)::

    OMP_NUM_THREADS=1 python tools/benchmark/hook_overhead.py \\
        --config configs/shapes/retinanet_r18-scratch_fpn_gn-all_shapes.py \\
        --rounds 2 --iters 120
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import tempfile
import threading
import time
from collections import defaultdict

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS

import rethink_mmdet  # noqa: F401
from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_config import use_shapes_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HE_RUNTIME = osp.join(REPO, 'configs', '_base_', 'he-scratch_runtime.py')
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'shapes',
                          'mask-rcnn_r18-scratch_fpn_gn-all_shapes.py')
WITH, WITHOUT = 'with our hooks', 'without'
PER_ITER_EVENTS = ('before_train_iter', 'after_train_iter')


def he_config(config: str,
              data_root: str,
              work_dir: str,
              iters: int,
              with_hooks: bool,
              log_interval: int = 50,
              ckpt_interval: int = None,
              num_workers: int = 0) -> Config:
    """``config`` on the shapes data in ``data_root``, iteration based for
    ``iters`` iterations, with the He et al. scratch runtime's hooks and
    checkpoint backend (``with_hooks``) or with none of them.

    Args:
        config (str): A detector config (a shapes or He et al. config).
        data_root (str): A directory written by ``make_shapes``.
        work_dir (str): The run's work directory.
        iters (int): Training iterations.
        with_hooks (bool): Use the scratch runtime's ``custom_hooks`` and
            atomic checkpoints; else ``custom_hooks = []``.
        log_interval (int): ``LoggerHook`` interval (He et al. runtime:
            mmdet's 50). Defaults to 50.
        ckpt_interval (int, optional): ``CheckpointHook`` interval.
            Defaults to None: after the last iteration (no save).
        num_workers (int): Dataloader workers. Defaults to 0.

    Returns:
        Config: The config, ready for ``RUNNERS.build``.
    """
    cfg = Config.fromfile(config)
    runtime = Config.fromfile(HE_RUNTIME)
    use_shapes_data(cfg, data_root, num_workers=num_workers)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir.rstrip(osp.sep))
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.resume = False
    cfg.randomness = dict(seed=0)
    cfg.log_processor = copy.deepcopy(runtime.log_processor)
    cfg.default_hooks.logger.interval = log_interval
    checkpoint = copy.deepcopy(runtime.default_hooks.checkpoint)
    checkpoint.interval = ckpt_interval or iters + 1
    checkpoint.save_last = ckpt_interval is not None
    cfg.custom_hooks = copy.deepcopy(runtime.custom_hooks)
    cfg.runner_type = runtime.runner_type
    if not with_hooks:
        checkpoint.pop('backend_args', None)
        cfg.custom_hooks = []
        cfg.runner_type = 'Runner'
    cfg.default_hooks.checkpoint = checkpoint
    return cfg


class HookTimer:
    """Wall time spent in the event methods of rethink_mmdet's hooks, per
    ``(hook, event)`` (wraps the methods of the runner's hook instances)."""

    def __init__(self, runner) -> None:
        self.seconds = defaultdict(float)
        self.names = []
        for hook in runner.hooks:
            if not type(hook).__module__.startswith('rethink_mmdet'):
                continue
            self.names.append(type(hook).__name__)
            for event in Hook.stages:
                if getattr(type(hook), event) is not getattr(Hook, event):
                    setattr(
                        hook, event,
                        self._timed(
                            getattr(hook, event),
                            (type(hook).__name__, event)))

    def _timed(self, method, key):

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start

        return timed


class Turnstile(Hook):
    """Hands the turn to the other runner at the end of every iteration and
    records how long each iteration of this runner took."""

    def __init__(self, lock: threading.Condition, state: dict, name: str,
                 on_start) -> None:
        self.lock, self.state, self.name = lock, state, name
        self.on_start = on_start  # called with the runner in before_train
        self.seconds = []
        self._start = None

    def _wait_for_turn(self) -> None:
        with self.lock:
            while self.state['turn'] != self.name and not self.state['done']:
                self.lock.wait()
        self._start = time.perf_counter()

    def before_train(self, runner) -> None:
        self.on_start(runner)
        self._wait_for_turn()

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        with self.lock:
            self.state['turn'] = self.state['other'][self.name]
            self.lock.notify_all()
        self._wait_for_turn()

    def after_train(self, runner) -> None:
        with self.lock:
            self.state['done'] = True  # the other runner goes on alone
            self.lock.notify_all()


def run_round(args, data_root: str, index: int):
    """Train both variants, taking turns; returns ``({variant: [seconds per
    iteration]}, HookTimer)`` without the warm-up iterations."""
    lock = threading.Condition()
    first = WITH if index % 2 == 0 else WITHOUT  # who starts the pairs
    state = dict(turn=first, done=False, other={WITH: WITHOUT, WITHOUT: WITH})
    runners, turnstiles = {}, {}
    weights_ready = threading.Event()

    def share_weights(runner):  # after ScratchInitHook (before_train)
        runners[WITHOUT].model.load_state_dict(runner.model.state_dict())
        weights_ready.set()

    on_start = {WITH: share_weights, WITHOUT: lambda _: weights_ready.wait()}
    for variant in (WITH, WITHOUT):  # built here: signal handlers need it
        work_dir = osp.join(
            args.work_dir,
            f'round{index}_' + ('with' if variant == WITH else 'without'))
        runners[variant] = RUNNERS.build(
            he_config(args.config, data_root, work_dir,
                      args.warmup + args.iters, variant == WITH,
                      args.log_interval))
        turnstiles[variant] = Turnstile(lock, state, variant,
                                        on_start[variant])
        runners[variant].register_hook(turnstiles[variant], priority=100)
    timer = HookTimer(runners[WITH])
    errors = []

    def train_without():
        try:
            runners[WITHOUT].train()
        except BaseException as error:  # reported below, after the join
            errors.append(error)
            with lock:
                state['done'] = True
                lock.notify_all()

    thread = threading.Thread(target=train_without)
    thread.start()
    try:
        runners[WITH].train()  # main thread: LongRunRunner's signals
    finally:
        weights_ready.set()
        with lock:
            state['done'] = True
            lock.notify_all()
        thread.join()
    if errors:
        raise errors[0]
    return {v: t.seconds[args.warmup:] for v, t in turnstiles.items()}, timer


def quartiles(values):
    """``(median, first quartile, third quartile)``."""
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q2, q1, q3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--log-interval', type=int, default=10)
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='hook_overhead_')
    data_root = osp.join(args.work_dir, 'shapes')
    make_shapes(data_root, 64, 4, 0, seed=0)
    load_before = os.getloadavg()
    times = {WITH: [], WITHOUT: []}
    ratios, round_ratios, in_hooks = [], [], []
    per_hook, once = defaultdict(list), defaultdict(list)
    for index in range(args.rounds):
        seconds, timer = run_round(args, data_root, index)
        pairs = [a / b for a, b in zip(seconds[WITH], seconds[WITHOUT])]
        ratios += pairs
        round_ratios.append(statistics.median(pairs))
        for variant, values in seconds.items():
            times[variant] += values
        total = args.warmup + args.iters
        iteration = defaultdict(float)
        for (name, event), value in timer.seconds.items():
            if event in PER_ITER_EVENTS:
                iteration[name] += value / total
            else:
                once[f'{name}.{event}'].append(value)
        in_hooks.append(sum(iteration.values()))
        for name, value in iteration.items():
            per_hook[name].append(value)
    print(f'config: {osp.relpath(args.config, REPO)}; our hooks: '
          f'{", ".join(timer.names)}')
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s), '
          f'{os.cpu_count()} CPUs, load average (1 min) '
          f'{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after')
    print(f'{args.rounds} round(s) of {args.iters} timed iterations per '
          f'variant (after {args.warmup}), taking turns; logging every '
          f'{args.log_interval}')
    print('| variant | s/iter median | quartiles | mean |')
    print('|---|---:|---:|---:|')
    for variant, values in times.items():
        med, q1, q3 = quartiles(values)
        print(f'| {variant} | {med:.4f} | {q1:.4f}-{q3:.4f} | '
              f'{statistics.mean(values):.4f} |')
    med, q1, q3 = quartiles(ratios)
    print(f'with / without, {len(ratios)} adjacent pairs: median {med:.4f} '
          f'({(med - 1) * 100:+.2f}%), quartiles {q1:.4f}-{q3:.4f}; '
          'per round: ' + ', '.join(f'{r:.4f}' for r in round_ratios))
    step = statistics.median(times[WITH])
    per_iter = statistics.median(in_hooks)
    print(f'time inside our hooks per iteration: median {per_iter * 1e6:.0f}'
          f' us ({per_iter / step * 100:.3f}% of the step), rounds '
          f'{min(in_hooks) * 1e6:.0f}-{max(in_hooks) * 1e6:.0f} us')
    for name, values in sorted(per_hook.items()):
        print(f'  {name} per iteration: median '
              f'{statistics.median(values) * 1e6:.0f} us')
    for event, values in sorted(once.items()):
        print(f'  once per run, {event}: median '
              f'{statistics.median(values) * 1e3:.1f} ms')


if __name__ == '__main__':
    main()
