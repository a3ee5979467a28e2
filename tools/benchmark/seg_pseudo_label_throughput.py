"""Segmentation pseudo-labeling throughput: our labeler vs mmseg's
``tools/test.py --tta`` (Zoph et al. 2020, Sec. 3.2: scales 0.5..1.75 +
flip).

Both run the same teacher (the tiny Semantic-FPN of
``configs/shapes/seg/`` at random init unless ``--checkpoint``) over the
same generated shapes images, batch 1, no loader workers, one thread, each
script run with its own command line in a fresh process that imported
torch, mmengine, mmseg and rethink_mmdet first (``runpy``), timed from the
script's start (config, model build, checkpoint, data, inference, output)
to its end:

- ``labeler``: ``tools/pseudo_label.py`` (writes the label-map store);
- ``mmseg --tta``: MMSegmentation's own ``tools/test.py --tta`` with
  ``tta_model=dict(type='SegTTAModel')`` and a ``tta_pipeline`` of the same
  views (:func:`rethink_mmdet.seg.multi_scale.multi_scale_pipeline` with
  ``with_annotations=True``), evaluating mIoU on the class maps.

Each is run on ``--small`` and ``--large`` images, ``--repeats`` times
(the fastest time is kept: the machine may be shared); images/s is the
marginal rate ``(large - small) / (t_large - t_small)``, so that the
scripts' start (config, model build) cancels out, and the rate of the
whole script on ``--large`` images is printed too. Example (the figures
of docs/self_training.md)::

    OMP_NUM_THREADS=1 python tools/benchmark/seg_pseudo_label_throughput.py \\
        --small 8 --large 104 --repeats 2
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

from pseudo_label_throughput import random_init_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_TEACHER = osp.join(REPO, 'configs', 'shapes', 'seg',
                       'fpn_r18-tiny-scratch_gn_shapes-seg.py')
MMSEG_TEST = osp.join(
    osp.dirname(__import__('mmseg').__file__), '.mim', 'tools', 'test.py')
MODES = ('labeler', 'mmseg --tta')


def prepare(work_dir, sizes, image_size):
    """Shapes images + class maps, one folder per size (symlinks to the
    ``max(sizes)`` generated images)."""
    from rethink_mmdet.data.shapes import make_shapes
    from rethink_mmdet.data.shapes_seg import make_shapes_seg
    root = osp.join(work_dir, 'shapes')
    make_shapes(root, 0, 0, max(sizes), seed=0, image_size=image_size)
    make_shapes_seg(root, splits=('unlabeled', ))
    names = sorted(os.listdir(osp.join(root, 'unlabeled')))
    for n in sizes:
        for sub in ('unlabeled', 'seg_maps/unlabeled'):
            dst = osp.join(root, f'n{n}', sub)
            os.makedirs(dst, exist_ok=True)
            for name in names[:n]:
                os.symlink(osp.join(root, sub, name), osp.join(dst, name))
    return root


def tta_config(work_dir, root, image_size, scales):
    """A config for mmseg's ``tools/test.py --tta``: the teacher with the
    test scale at the image size and a ``tta_pipeline`` of the labeler's
    views."""
    from mmengine.config import Config

    from rethink_mmdet.seg.multi_scale import multi_scale_pipeline
    from rethink_mmdet.self_training.unlabeled_images import test_pipeline_cfg
    cfg = Config.fromfile(SEG_TEACHER)
    cfg.test_dataloader.dataset.pipeline[1]['scale'] = (image_size, image_size)
    tta = multi_scale_pipeline(
        test_pipeline_cfg(cfg), scales, flip=True, with_annotations=True)
    path = osp.join(work_dir, 'teacher_tta.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{SEG_TEACHER!r}]\n'
                f"tta_model = dict(type='SegTTAModel')\n"
                f'tta_pipeline = {tta!r}\n'
                f'test_dataloader = dict(batch_size=1, num_workers=0, '
                f'persistent_workers=False)\n'
                f"default_hooks = dict(logger=dict(interval=10**6))\n")
    return path


def run(mode, n, args):
    size = f'({args.image_size},{args.image_size})'
    data = osp.join(args.root, f'n{n}')
    if mode == 'labeler':
        cmd = [
            osp.join(REPO, 'tools', 'pseudo_label.py'), SEG_TEACHER,
            args.checkpoint, '--images',
            osp.join(data, 'unlabeled'), '--out',
            osp.join(args.work_dir,
                     f'store_{n}'), '--batch-size', '1', '--num-workers', '0',
            '--chunk-size', '256', '--scales', *map(str, args.scales),
            '--cfg-options', f'test_dataloader.dataset.pipeline.1.scale={size}'
        ]
    else:
        cmd = [
            MMSEG_TEST, args.tta_config, args.checkpoint, '--tta',
            '--work-dir',
            osp.join(args.work_dir, f'mmseg_{n}'), '--cfg-options',
            f'test_dataloader.dataset.data_root={data}/',
            'test_dataloader.dataset.data_prefix.img_path=unlabeled/',
            'test_dataloader.dataset.data_prefix.seg_map_path='
            'seg_maps/unlabeled/'
        ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    out = cmd[cmd.index('--out' if mode == 'labeler' else '--work-dir') + 1]
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable,
         osp.abspath(__file__), '--child', *cmd],
        env=env,
        capture_output=True,
        text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')]
    if proc.returncode != 0 or not lines:
        sys.exit(f'{mode} on {n} images failed:\n{proc.stderr[-4000:]}')
    return json.loads(lines[-1][len('RESULT '):])['seconds']


def child(argv):
    """Run the script ``argv[0]`` with ``argv[1:]`` in this process (the
    heavy imports done before the clock starts); print its seconds."""
    import runpy

    import mmengine.runner  # noqa: F401
    import mmseg.models  # noqa: F401
    import torch  # noqa: F401

    import rethink_mmdet.seg  # noqa: F401
    sys.argv = list(argv)
    start = time.perf_counter()
    try:
        runpy.run_path(argv[0], run_name='__main__')
    except SystemExit as e:
        if e.code not in (None, 0):
            raise
    print(
        'RESULT ' + json.dumps(dict(seconds=time.perf_counter() - start)),
        flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--small', type=int, default=8)
    parser.add_argument('--large', type=int, default=104)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument(
        '--scales',
        type=float,
        nargs='+',
        default=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--work-dir', default=None)
    if sys.argv[1:2] == ['--child']:
        return child(sys.argv[2:])
    args = parser.parse_args()
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='seg_pl_bench_')
    sizes = (args.small, args.large)
    args.root = prepare(args.work_dir, sizes, args.image_size)
    if args.checkpoint is None:
        from rethink_mmdet.data.shapes_seg import SEG_CLASSES
        args.checkpoint = random_init_checkpoint(SEG_TEACHER, args.work_dir,
                                                 SEG_CLASSES)
    args.tta_config = tta_config(args.work_dir, args.root, args.image_size,
                                 args.scales)
    times = {}
    for _ in range(args.repeats):
        for n in sizes:
            for mode in MODES:
                seconds = run(mode, n, args)
                times[mode, n] = min(times.get((mode, n), seconds), seconds)
                print(
                    f'done: {mode} {n} images in {seconds:.1f} s',
                    file=sys.stderr,
                    flush=True)
    print(f'\n{osp.basename(SEG_TEACHER)}, {args.image_size}px images, '
          f'scales {args.scales} + flip ({2 * len(args.scales)} views), '
          'batch 1, 1 process, 1 thread, no loader workers, best of '
          f'{args.repeats}')
    print(f'| command | {args.small} images (s) | {args.large} images (s) '
          f'| images/s (marginal) | images/s (whole script, {args.large}) |')
    print('|---|---:|---:|---:|---:|')
    for mode in MODES:
        t0, t1 = times[mode, args.small], times[mode, args.large]
        print(f'| {mode} | {t0:.2f} | {t1:.2f} | '
              f'{(args.large - args.small) / (t1 - t0):.2f} | '
              f'{args.large / t1:.2f} |')


if __name__ == '__main__':
    main()
