"""Cost of the collectives our hooks add to every training iteration, side
by side with the gradient all-reduce DDP does anyway (CPU, gloo).

Per iteration, in a distributed run: ``ImagesSeenHook`` all-reduces the
batch's 3 counts (int64, SUM) and ``PreemptionCheckpointHook`` all-reduces
its stop flag (int32, MAX) -- two small collectives. This starts
``--world-size`` CPU processes (gloo) and times, per call: each of the two
exactly as the hooks make it (``PreemptionCheckpointHook._stop_requested``
itself; ``ImagesSeenHook``'s ``all_reduce`` of its delta), the two merged
into one 4-element collective, and DDP-sized gradient all-reduces (the tiny
shapes RetinaNet, 841k parameters, and a Mask R-CNN R50-FPN, 44M, float32 in
one buffer). Example::

    python tools/benchmark/per_iteration_collectives.py --world-size 2
"""
import argparse
import os
import socket
import time

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

SMALL_ITERS = 2000
GRAD_ITERS = {841_432: 50, 44_000_000: 5}


def _time(fn, iters):
    for _ in range(max(iters // 10, 1)):  # warm-up
        fn()
    torch_dist.barrier()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def _worker(rank, world_size, port, results):
    os.environ.update(
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    from mmengine.dist import all_reduce

    from rethink_mmdet.engine.preemption import PreemptionCheckpointHook
    hook = PreemptionCheckpointHook()
    timings = {}

    def images_seen():  # ImagesSeenHook.after_train_iter's collective
        delta = torch.tensor((2, 14, 2 * 800 * 1216), dtype=torch.int64)
        all_reduce(delta, op='sum')

    def merged():  # both as one collective (a MAX-able flag as a count)
        both = torch.tensor((2, 14, 2 * 800 * 1216, 0), dtype=torch.int64)
        all_reduce(both, op='sum')

    timings['ImagesSeenHook all_reduce (3 x int64)'] = _time(
        images_seen, SMALL_ITERS)
    timings['PreemptionCheckpointHook._stop_requested (1 x int32)'] = _time(
        hook._stop_requested, SMALL_ITERS)
    timings['both merged into one (4 x int64)'] = _time(merged, SMALL_ITERS)
    for numel, iters in GRAD_ITERS.items():
        grads = torch.zeros(numel, dtype=torch.float32)
        timings[f'gradient all_reduce ({numel / 1e6:.2f}M float32)'] = _time(
            lambda: torch_dist.all_reduce(grads), iters)
    if rank == 0:
        results.update(timings)
    torch_dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--world-size', type=int, default=2)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(
            _worker,
            args=(args.world_size, port, results),
            nprocs=args.world_size)
        results = dict(results)
    print(f'{args.world_size} CPU processes, gloo, torch {torch.__version__}, '
          f'{os.cpu_count()} CPUs')
    print('| collective per iteration | time per call (us) |')
    print('|---|---:|')
    for name, seconds in results.items():
        print(f'| {name} | {seconds * 1e6:,.0f} |')


if __name__ == '__main__':
    main()
