"""Collectives per training iteration of a He et al. 2019 config with all
of rethink_mmdet's hooks, counted in a real distributed run (CPU, gloo),
and what each costs next to DDP's gradient all-reduce.

Counting: ``--world-size`` processes train the config (default: the tiny
GN-all Mask R-CNN shapes config) with the He et al. scratch runtime's hooks
(``configs/_base_/he-scratch_runtime.py``, see ``hook_overhead.py``). In
these benchmark processes only, every ``torch.distributed`` collective is
wrapped to record the training iteration it falls in and who called it (the
first caller outside torch and ``mmengine.dist``); DDP's gradient
all-reduce is made visible by registering torch's default all-reduce comm
hook (one call per gradient bucket). Expected: ``LongRunRunner`` agrees on
its stop flag (1 all-reduce after every iteration, and one before the
first); ``ImagesSeenHook`` sums its counts only where they are read
(logging iterations, epoch ends, checkpoint iterations and the last one)
through the runner's ``sum_over_ranks``, in the same all-reduce as the flag
(so 1 collective on those iterations too); the runner gathers every rank's
random states at each checkpoint (1 ``all_gather_object``). Printed: the
calls per caller and the number of iterations with 1, 2, ... collectives
of ours.

Timing: the same processes then time, per call, each of those collectives
as the hooks make them and DDP-sized gradient all-reduces (the tiny shapes
RetinaNet, 841k parameters, and a Mask R-CNN R50-FPN, 44M, float32 in one
buffer). Example::

    OMP_NUM_THREADS=1 python tools/benchmark/per_iteration_collectives.py
"""
import argparse
import os
import os.path as osp
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from hook_overhead import DEFAULT_CONFIG, REPO, he_config
from mmengine.hooks import Hook

SMALL_ITERS = 2000
GRAD_ITERS = {841_432: 50, 44_000_000: 5}
COLLECTIVES = ('all_reduce', 'broadcast', 'reduce', 'all_gather',
               'all_gather_into_tensor', 'gather', 'scatter', 'reduce_scatter',
               'reduce_scatter_tensor', 'all_to_all', 'barrier',
               'all_gather_object', 'broadcast_object_list', 'gather_object')
SETUP, TEARDOWN = 'before training', 'after training'
DDP_BUCKET = 'DDP gradient bucket'
_SKIP = (osp.dirname(torch.__file__), osp.join('mmengine',
                                               'dist'), osp.abspath(__file__))


def _origin(frame) -> str:
    """Who called a collective: the first frame outside torch,
    ``mmengine.dist`` and this file, as ``Class.method``."""
    while frame is not None:
        name = frame.f_code.co_filename
        if 'ddp_comm_hooks' in name:
            return DDP_BUCKET
        if not name.startswith(_SKIP[0]) and _SKIP[1] not in name \
                and name != _SKIP[2]:
            owner = frame.f_locals.get('self')
            where = type(owner).__name__ if owner is not None else \
                osp.basename(name)
            return f'{where}.{frame.f_code.co_name}'
        frame = frame.f_back
    return 'unknown'


class CollectiveCounter(Hook):
    """Wraps ``torch.distributed``'s collectives (in this process only) and
    records ``(iteration, caller)`` for each call."""

    def __init__(self) -> None:
        self.phase = SETUP
        self.calls = []
        for name in COLLECTIVES:
            if hasattr(torch_dist, name):
                setattr(torch_dist, name,
                        self._counted(getattr(torch_dist, name), name))

    def _counted(self, fn, name):

        def counted(*args, **kwargs):
            caller = _origin(sys._getframe(1))
            self.calls.append((self.phase, f'{caller} ({name})'))
            return fn(*args, **kwargs)

        return counted

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.phase = runner.iter + 1

    def after_train(self, runner):
        self.phase = TEARDOWN


def _time(fn, iters):
    for _ in range(max(iters // 10, 1)):  # warm-up
        fn()
    torch_dist.barrier()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def _timings(runner) -> dict:
    from rethink_mmdet.engine.images_seen import ImagesSeenHook
    images_seen = next(
        h for h in runner.hooks if isinstance(h, ImagesSeenHook))

    def sync_counts():  # one summing point of ImagesSeenHook
        images_seen._pending_iters = 1
        images_seen.synchronize()

    timings = {
        'LongRunRunner.sum_over_ranks, the stop flag (1 x int64)':
        _time(lambda: runner.sum_over_ranks([0]), SMALL_ITERS),
        'ImagesSeenHook.synchronize (3 x int64)':
        _time(sync_counts, SMALL_ITERS),
    }
    for numel, iters in GRAD_ITERS.items():
        grads = torch.zeros(numel, dtype=torch.float32)
        timings[f'gradient all_reduce ({numel / 1e6:.2f}M float32)'] = _time(
            lambda: torch_dist.all_reduce(grads), iters)
    return timings


def _worker(rank, world_size, port, args, results):
    os.environ.update(
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from mmengine.registry import RUNNERS
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import \
        allreduce_hook

    from rethink_mmdet.engine.launch import setup_launcher
    cfg = he_config(args.config, args.data_root,
                    osp.join(args.work_dir, 'train'), args.iters, True,
                    args.log_interval, args.ckpt_interval)
    cfg.launcher = 'pytorch'
    cfg.log_level = 'WARNING'
    setup_launcher(cfg)  # gloo process group on a machine without CUDA
    counter = CollectiveCounter()
    runner = RUNNERS.build(cfg)
    runner.register_hook(counter, priority='HIGHEST')
    runner.model.register_comm_hook(None, allreduce_hook)
    runner.train()
    if rank == 0:
        results['calls'] = counter.calls
    timings = _timings(runner)
    if rank == 0:
        results['timings'] = timings
    torch_dist.destroy_process_group()


def _ranges(iters) -> str:
    """``[1, 2, 3, 5]`` -> ``'1-3, 5'``."""
    out, start = [], None
    for i, it in enumerate(iters):
        if start is None:
            start = it
        if i + 1 == len(iters) or iters[i + 1] != it + 1:
            out.append(f'{start}-{it}' if it != start else f'{it}')
            start = None
    return ', '.join(out)


def report(calls, iters: int) -> None:
    """Print the counts per caller and our hooks' collectives per
    iteration."""
    per_caller = defaultdict(list)
    ours = Counter()
    outside = Counter()
    for phase, caller in calls:
        if isinstance(phase, int):
            per_caller[caller].append(phase)
            if not caller.startswith(DDP_BUCKET):
                ours[phase] += 1
        else:
            outside[f'{caller}, {phase}'] += 1
    print(f'\n{iters} training iterations; collectives inside them:')
    print('| caller (collective) | calls | per iteration | on iterations |')
    print('|---|---:|---:|---|')
    for caller, phases in sorted(per_caller.items()):
        print(f'| {caller} | {len(phases)} | {len(phases) / iters:.2f} | '
              f'{_ranges(sorted(set(phases)))} |')
    histogram = Counter(ours[it] for it in range(1, iters + 1))
    print('\nour hooks (everything but DDP): ' +
          ', '.join(f'{n} collective(s) on {k} iteration(s)'
                    for n, k in sorted(histogram.items())) +
          f'; max {max(histogram)} per iteration, mean '
          f'{sum(ours.values()) / iters:.2f}')
    more = sorted(it for it, n in ours.items() if n > 1)
    print(f'iterations with more than one: {_ranges(more) or "none"}')
    print('outside the iterations: ' +
          ', '.join(f'{k}: {n}' for k, n in sorted(outside.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--world-size', type=int, default=2)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--log-interval', type=int, default=10)
    parser.add_argument('--ckpt-interval', type=int, default=15)
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='collectives_')
    args.data_root = osp.join(args.work_dir, 'shapes')
    from rethink_mmdet.data import make_shapes
    make_shapes(args.data_root, 64, 4, 0, seed=0)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(
            _worker,
            args=(args.world_size, port, args, results),
            nprocs=args.world_size)
        results = dict(results)
    print(f'{args.world_size} CPU processes, gloo, torch {torch.__version__}, '
          f'{os.cpu_count()} CPUs; config {osp.relpath(args.config, REPO)} '
          f'with the He et al. scratch runtime hooks; logging every '
          f'{args.log_interval}, checkpoints every {args.ckpt_interval} and '
          'at the end')
    report(results['calls'], args.iters)
    print('\n| collective | time per call (us) |')
    print('|---|---:|')
    for name, seconds in results['timings'].items():
        print(f'| {name} | {seconds * 1e6:,.0f} |')


if __name__ == '__main__':
    main()
