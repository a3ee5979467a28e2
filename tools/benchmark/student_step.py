"""Step time and peak memory of the self-training student against the plain
model it wraps (Zoph et al. 2020; ``SelfTrainingDetector`` around a
detector, ``SelfTrainingSegmentor`` around a segmentor: the config's
``default_scope`` picks which), side by side in one run, and the mixed
sampler's cost per batch.

The same images and the same total batch go through four models built
from one detector (segmentor) config and started from the same weights: the
plain model (one forward of the whole batch), the student with loss
normalization (App. B: the moving averages, the factor) and the student with
the plain joint loss (``normalize=False``), both in the default
``part_forward`` mode (``'shared_features'`` for mmdet's one- and two-stage
detectors: backbone, neck and dense head once on the whole batch, the
losses per half; for mmseg's ``EncoderDecoder``: backbone, neck and every
decode/auxiliary head's forward once, ``loss_by_feat`` per half), and the
normalized student with ``part_forward='per_part'`` (one forward of the
inner model per half).
Each runs ``model.train_step`` (data preprocessor, loss, ``parse_losses``,
backward, SGD step) with the optimizer wrapper of the config. Batches are
prepared once (the config's train pipeline on generated shapes images, half
of every batch tagged ``human``, half ``pseudo``), so data loading is not
timed; the models take turns, one step each per round, ``--steps`` x
``--repeats`` rounds, and the median wall and thread-CPU step time and the
median paired ratio to the plain step are reported (thread CPU time is the
robust figure on a shared CPU machine; on CUDA wall time with
synchronization is the figure). Peak memory is measured in a fresh
process per model (peak RSS; on CUDA also ``max_memory_allocated``).

The mixed sampler's cost: ``MixedSourceBatchSampler`` against mmdet's
``DefaultSampler`` + ``AspectRatioBatchSampler`` per batch of indices, on
the generated datasets of tools/benchmark/mixed_sampler.py (its ``build``
and ``per_batch_us``); detection configs only (the sampler does not depend
on the task)::

    python tools/benchmark/student_step.py \\
        --config configs/shapes/mask-rcnn_r18-scratch_fpn_gn-all_shapes.py \\
        --batch-size 4 --steps 10 --repeats 3 [--device cuda] [--out FILE]

Segmentation (Zoph et al. 2020, Sec. 3.2): the same with a segmentor
config, e.g. the tiny Semantic-FPN of the shapes class maps, whose images
are generated with their class maps (``make_shapes_seg``)::

    python tools/benchmark/student_step.py \\
        --config configs/shapes/seg/fpn_r18-tiny-scratch_gn_shapes-seg.py
"""
import argparse
import copy
import json
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from mixed_sampler import build as build_sampler_data  # noqa: E402
from mixed_sampler import per_batch_us  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'shapes',
                          'mask-rcnn_r18-scratch_fpn_gn-all_shapes.py')
#: default_scope of the config -> the student wrapper, the key of its
#: inner model, and the module of the registry that builds both
TASKS = {
    'mmdet': ('SelfTrainingDetector', 'detector', 'mmdet.registry'),
    'mmseg': ('SelfTrainingSegmentor', 'segmentor', 'mmseg.registry'),
}
#: mode -> (loss_norm.normalize, part_forward) of the student
STUDENTS = {
    'student-norm': (True, 'auto'),
    'student-plain-loss': (False, 'auto'),
    'student-norm-per-part': (True, 'per_part'),
}
MODES = ('plain', ) + tuple(STUDENTS)


def task_of(cfg):
    """The config's ``default_scope`` (``'mmdet'`` without one), checked
    against :data:`TASKS`."""
    scope = cfg.get('default_scope', 'mmdet')
    if scope not in TASKS:
        raise ValueError(f'student_step: default_scope={scope!r} is not one '
                         f'of {sorted(TASKS)} (a detector or a segmentor '
                         'config).')
    return scope


def make_data(data_root, num_images, image_size, seg):
    """Shapes images (and, ``seg``, their class maps) in ``data_root``."""
    from rethink_mmdet.data import make_shapes
    make_shapes(data_root, num_images, 4, 0, seed=0, image_size=image_size)
    if seg:
        from rethink_mmdet.data.shapes_seg import make_shapes_seg
        make_shapes_seg(data_root, splits=('train', 'val'))


def load_cfg(path, data_root, batch_size, options=None):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    if task_of(cfg) == 'mmseg':  # the shapes class maps' own layout
        loader = cfg.train_dataloader
        loader.dataset.data_root = data_root.rstrip('/') + '/'
        loader.num_workers = 0
        loader.persistent_workers = False
    else:
        from rethink_mmdet.data.shapes_config import use_shapes_data
        use_shapes_data(cfg, data_root, num_workers=0)
    cfg.train_dataloader.batch_size = batch_size
    return cfg


def make_batches(cfg, num_batches, seed=0):
    """``num_batches`` collated train batches, the first half of each batch
    tagged ``human``, the second ``pseudo`` (what a MultiSourceDataset with
    MixedSourceSampler 1:1 gives the student)."""
    from mmengine.runner import Runner

    from rethink_mmdet.self_training import HUMAN, PSEUDO, SOURCE_KEY
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
    batches = []
    for batch in loader:
        half = len(batch['data_samples']) // 2
        for i, sample in enumerate(batch['data_samples']):
            sample.set_metainfo({SOURCE_KEY: HUMAN if i < half else PSEUDO})
        batches.append(batch)
        if len(batches) == num_batches:
            return batches
    raise ValueError(f'the dataset gives only {len(batches)} batches; '
                     'generate more images (--num-images)')


def build_model(cfg, mode, device, seed=0):
    """The model of ``mode`` and its optimizer wrapper, weights from
    ``seed`` (the same for every mode)."""
    import importlib

    from mmengine.optim import build_optim_wrapper
    wrapper, inner_key, registry = TASKS[task_of(cfg)]
    MODELS = importlib.import_module(registry).MODELS
    torch.manual_seed(seed)
    plain = MODELS.build(copy.deepcopy(cfg.model))
    plain.init_weights()
    if mode == 'plain':
        model = plain
    else:
        normalize, part_forward = STUDENTS[mode]
        model = MODELS.build({
            'type': wrapper,
            inner_key: copy.deepcopy(cfg.model),
            'loss_norm': dict(normalize=normalize),
            'part_forward': part_forward
        })
        model.load_state_dict(plain.state_dict())  # plain keys load as is
    model.to(device).train()
    return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_steps(model, optim_wrapper, batches, steps, device, start=0):
    """``(wall, cpu)`` seconds of each of ``steps`` train steps on
    ``batches[start:]`` (cycled); ``cpu`` is this thread's CPU time, which
    on a loaded machine is not inflated by waiting for a core (with
    ``OMP_NUM_THREADS=1`` every op runs on this thread)."""
    times = []
    for i in range(start, start + steps):
        batch = batches[i % len(batches)]
        sync(device)
        t0, c0 = time.perf_counter(), time.thread_time()
        model.train_step(batch, optim_wrapper)
        sync(device)
        times.append((time.perf_counter() - t0, time.thread_time() - c0))
    return times


def peak_memory(mode, args, data_root):
    """Peak RSS (and CUDA allocation) of ``mode`` alone, in a fresh
    process."""
    cmd = [
        sys.executable, __file__, '--child', mode, '--config', args.config,
        '--data-root', data_root, '--batch-size',
        str(args.batch_size), '--steps',
        str(args.steps), '--device', args.device
    ]
    if args.cfg_options:
        cmd += ['--cfg-options'] + [
            f'{k}={v}'.replace(' ', '') for k, v in args.cfg_options.items()
        ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child(args):
    """``--child MODE``: build, warm up, train ``--steps`` steps, print the
    peaks as JSON."""
    from mmengine.registry import init_default_scope
    cfg = load_cfg(args.config, args.data_root, args.batch_size,
                   args.cfg_options)
    init_default_scope(task_of(cfg))
    batches = make_batches(cfg, args.num_batches)
    model, optim = build_model(cfg, args.child, args.device)
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    with open('/proc/self/statm') as f:  # resident pages before training
        before = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    run_steps(model, optim, batches, args.steps + args.warmup, args.device)
    peak = dict(
        rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        rss_before_mb=before)
    if args.device.startswith('cuda'):
        peak['cuda_mb'] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(peak))


def sampler_rows(batch_size, num_human, num_pseudo, num_batches):
    from mmengine.dataset import DefaultSampler

    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from rethink_mmdet.self_training import (MixedSourceBatchSampler,
                                             MixedSourceSampler)
    with tempfile.TemporaryDirectory() as tmp:
        human, mixed = build_sampler_data(tmp, num_human, num_pseudo)
        ref = AspectRatioBatchSampler(
            DefaultSampler(human, shuffle=True, seed=0), batch_size)
        mix = MixedSourceBatchSampler(
            MixedSourceSampler(mixed, seed=0, aspect_ratio_grouping=True),
            batch_size)
        return per_batch_us(ref, num_batches), per_batch_us(mix, num_batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='a detector or segmentor config (default: the tiny shapes '
        'Mask R-CNN)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=4,
        help='total batch (the student: half human, half '
        'pseudo)')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--num-batches',
        type=int,
        default=4,
        help='distinct prepared batches, cycled')
    parser.add_argument('--num-images', type=int, default=16)
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--sampler-human', type=int, default=20000)
    parser.add_argument('--sampler-pseudo', type=int, default=100000)
    parser.add_argument(
        '--out', default=None, help='also write the '
        'markdown tables here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='merged into the config, e.g. a larger train scale: '
        'train_dataloader.dataset.pipeline.2.scale=(512,512)')
    parser.add_argument('--child', choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument('--data-root', help=argparse.SUPPRESS)
    args = parser.parse_args()
    import rethink_mmdet  # noqa: F401  (registers the components)
    if args.child:
        return child(args)

    from mmengine.registry import init_default_scope
    with tempfile.TemporaryDirectory() as tmp:
        data_root = osp.join(tmp, 'shapes')
        cfg = load_cfg(args.config, data_root, args.batch_size,
                       args.cfg_options)
        seg = task_of(cfg) == 'mmseg'
        make_data(data_root, args.num_images, args.image_size, seg)
        init_default_scope(task_of(cfg))
        batches = make_batches(cfg, args.num_batches)
        models = {m: build_model(cfg, m, args.device) for m in MODES}
        times = {m: [] for m in MODES}
        for m in MODES:  # warm-up (first-call allocations, caches)
            run_steps(*models[m], batches, args.warmup, args.device)
        for i in range(args.repeats * args.steps):
            for m in MODES:  # one step each in turn: load drift hits all
                times[m] += run_steps(
                    *models[m], batches, 1, args.device, start=i)
        peaks = {m: peak_memory(m, args, data_root) for m in MODES}
    if not seg:
        ref_us, mix_us = sampler_rows(args.batch_size, args.sampler_human,
                                      args.sampler_pseudo, 500)

    cuda = args.device.startswith('cuda')
    wall = {m: [w for w, _ in times[m]] for m in MODES}
    cpu = {m: [c for _, c in times[m]] for m in MODES}
    base = statistics.median(wall['plain'])

    def paired(m, kind):
        """Median over the rounds of this model's step / the plain step of
        the same round (same batch, adjacent in time)."""
        vals = wall if kind == 'wall' else cpu
        return statistics.median(a / b
                                 for a, b in zip(vals[m], vals['plain'])) - 1

    lines = [
        f'`{osp.relpath(args.config, REPO)}`, total batch '
        f'{args.batch_size} (student: {args.batch_size // 2} human + '
        f'{args.batch_size - args.batch_size // 2} pseudo), '
        f'{args.image_size}px shapes images'
        f'{" (" + str(args.cfg_options) + ")" if args.cfg_options else ""}, '
        f'device {args.device}, '
        f'torch threads {torch.get_num_threads()}; '
        f'{args.repeats * args.steps} rounds of one step per model in turn '
        f'(same batch), after {args.warmup} warm-up steps. "paired": the '
        'median over rounds of step / plain step of the same round; CPU: '
        'thread CPU time of the step (not inflated by a loaded machine).', '',
        '| model | median wall (ms) | wall vs plain, paired | '
        'median CPU (ms) | CPU vs plain, paired | min CPU vs plain | '
        'peak RSS (MiB) | RSS before the steps (MiB) |' +
        (' peak CUDA (MiB) |' if cuda else ''),
        '|---|---:|---:|---:|---:|---:|---:|---:|' + ('---:|' if cuda else '')
    ]
    for m in MODES:
        row = (f'| {m} | {statistics.median(wall[m]) * 1e3:.1f} | '
               f'{paired(m, "wall") * 100:+.1f}% | '
               f'{statistics.median(cpu[m]) * 1e3:.1f} | '
               f'{paired(m, "cpu") * 100:+.1f}% | '
               f'{(min(cpu[m]) / min(cpu["plain"]) - 1) * 100:+.1f}% | '
               f'{peaks[m]["rss_mb"]:.0f} | '
               f'{peaks[m]["rss_before_mb"]:.0f} |')
        if 'cuda_mb' in peaks[m]:
            row += f' {peaks[m]["cuda_mb"]:.0f} |'
        lines.append(row)
    lines += [] if seg else [
        '', f'Indices of one batch of {args.batch_size} '
        f'({args.sampler_human} human + {args.sampler_pseudo} pseudo '
        'images, 500 batches):', '',
        '| sampler | per batch (us) | share of the plain step |',
        '|---|---:|---:|',
        f'| DefaultSampler + AspectRatioBatchSampler (human only) | '
        f'{ref_us:.0f} | {ref_us / 1e6 / base * 100:.3f}% |',
        f'| MixedSourceSampler 1:1 + MixedSourceBatchSampler | '
        f'{mix_us:.0f} | {mix_us / 1e6 / base * 100:.3f}% |'
    ]
    text = '\n'.join(lines)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
