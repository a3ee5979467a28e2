"""Time to resume a long run: ResumableIterBasedTrainLoop vs mmengine's.

For each k (default 10, 1k, 10k, 100k) a checkpoint "at iteration k" is
made cheaply: one real 1-iteration run of the shapes config gives a real
checkpoint, whose loop state is then rewritten (``meta.iter = k``, the LR
schedulers' step, and the sampler position our loop records: epoch 0,
batch k of the infinite sampler). Then ``tools/train.py`` resumes from it,
once with each loop, and the time from process start to the end of the
first trained iteration is measured (a hook prints the time and stops the
run). mmengine's ``IterBasedTrainLoop`` first fetches the k trained batches
again through the data pipeline; ours starts the sampler at batch k.

Usage::

    python tools/benchmark/resume_time.py [--ks 10 1000 10000 100000]
        [--mmengine-max-k 100000] [--out /tmp/readme_drafts/long_runs.md]

``--mmengine-max-k`` skips mmengine's loop above that k (its replay at
k=100k takes about 100x its k=1k time); skipped cells say so. Each cell is
the fastest of ``--repeats`` runs (default 3; ours at every k, mmengine's
only up to ``--mmengine-max-repeat-k``), the usual way to read a start-up
time off a shared machine, whose load only ever adds time.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'shapes',
                  'retinanet_r18-scratch_fpn_gn-all_shapes.py')
LOOPS = {
    'ours': 'ResumableIterBasedTrainLoop',
    'mmengine': 'IterBasedTrainLoop'
}
HOOK = '''
import time
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module(force=True)
class FirstIterationTimeHook(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        print('FIRST_ITERATION_AT', repr(time.time()), flush=True)
        runner.train_loop.stop_training = True
'''

BENCH_CONFIG = '''_base_ = {config!r}
custom_imports = dict(imports=['rethink_mmdet', 'first_iteration_hook'],
                      allow_failed_imports=False)
custom_hooks = {hooks}
val_dataloader = None
val_cfg = None
val_evaluator = None
'''


def train(work_dir, data_root, loop, max_iters, extra=()):
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'),
        osp.join(osp.dirname(work_dir), 'bench.py'), '--work-dir', work_dir,
        '--resume', '--cfg-options', f'train_cfg.type={loop}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'train_dataloader.dataset.data_root={data_root}/',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'randomness.seed=0',
        'default_hooks.checkpoint.interval=1', *extra
    ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=f'{osp.dirname(work_dir)}{os.pathsep}'
        f'{os.environ.get("PYTHONPATH", "")}')
    start = time.time()
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{out[-4000:]}')
    return start, out


def checkpoint_at(base, k, work_dir):
    """``base`` rewritten to iteration ``k`` (our loop's position too)."""
    from rethink_mmdet.engine.loops import POSITION_KEY
    ckpt = torch.load(base, weights_only=True)
    ckpt['meta']['iter'] = k
    info = ckpt['message_hub']['runtime_info']
    info[POSITION_KEY] = dict(info[POSITION_KEY], batch=k, iter=k)
    for sched in ckpt['param_schedulers']:
        sched['last_step'] = k
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, f'iter_{k}.pth')
    torch.save(ckpt, path)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--ks', type=int, nargs='+', default=[10, 1000, 10000, 100000])
    parser.add_argument('--mmengine-max-k', type=int, default=100000)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--mmengine-max-repeat-k', type=int, default=1000)
    parser.add_argument('--out', default='/tmp/readme_drafts/long_runs.md')
    args = parser.parse_args()
    sys.path.insert(0, REPO)
    import rethink_mmdet  # noqa: F401  (checkpoint globals, the loops)
    from rethink_mmdet.data import make_shapes

    tmp = tempfile.mkdtemp(prefix='resume_time_')
    data_root = osp.join(tmp, 'shapes')
    make_shapes(data_root, num_train=12, num_val=2, num_unlabeled=0, seed=0)
    with open(osp.join(tmp, 'first_iteration_hook.py'), 'w') as f:
        f.write(HOOK)
    with open(osp.join(tmp, 'bench.py'), 'w') as f:
        f.write(
            BENCH_CONFIG.format(
                config=CONFIG, hooks="[dict(type='FirstIterationTimeHook')]"))
    base_dir = osp.join(tmp, 'base')
    train(base_dir, data_root, LOOPS['ours'], 1)
    base = osp.join(base_dir, 'iter_1.pth')
    rows = []
    for k in args.ks:
        row = [k]
        for name, loop in LOOPS.items():
            if name == 'mmengine' and k > args.mmengine_max_k:
                row.append(None)
                continue
            repeats = args.repeats if (
                name == 'ours' or k <= args.mmengine_max_repeat_k) else 1
            times = []
            for rep in range(repeats):
                work_dir = osp.join(tmp, f'{name}_{k}_{rep}')
                checkpoint_at(base, k, work_dir)
                start, out = train(work_dir, data_root, loop, k + 10)
                first = float(out.split('FIRST_ITERATION_AT')[1].split()[0])
                times.append(first - start)
            row.append(min(times))
            print(
                f'k={k} {name}: ' + ' '.join(f'{t:.1f}' for t in times) + ' s',
                flush=True)
        rows.append(row)

    def cell(v):
        return 'not run' if v is None else f'{v:.1f}'

    lines = [
        '| resumed at iteration k | ResumableIterBasedTrainLoop (s) | '
        "mmengine's IterBasedTrainLoop (s) |", '|---:|---:|---:|'
    ] + [f'| {k:,} | {cell(a)} | {cell(b)} |' for k, a, b in rows]
    table = '\n'.join(lines)
    print(table)
    ours = [r[1] for r in rows]
    text = (
        '## Resuming long runs: time to the first trained iteration\n\n'
        'Time from process start to the end of the first trained iteration '
        'after resuming at iteration k, shapes RetinaNet config '
        '(InfiniteSampler + AspectRatioBatchSampler, batch 4, '
        '`num_workers=0`), CPU, the fastest of '
        f'{args.repeats} runs per cell (mmengine\'s above k='
        f'{args.mmengine_max_repeat_k:,}: one run), measured by '
        '`python tools/benchmark/resume_time.py` (checkpoints made by '
        'rewriting the loop state of a real 1-iteration checkpoint).\n\n'
        f'{table}\n\n'
        f'Ours at the largest k / at the smallest: '
        f'{ours[-1] / ours[0]:.2f}x. mmengine\'s loop fetches the k trained '
        'batches again through the data pipeline before training.\n')
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write(text)
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
