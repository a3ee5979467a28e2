"""Peak resident memory of the labeler vs the number of images.

Each row runs in a fresh process (one thread, no loader workers, so the
process's ``ru_maxrss`` is all of it) over an image-only COCO JSON of N
images (``--unique`` generated shapes images cycled to N, ids 1..N), with
two implementations side by side:

- ``new``: this checkout's :mod:`rethink_mmdet.self_training.labeler`
  (listing as numpy arrays, the JSON streamed, batches per chunk);
- ``old``: the labeler of git revision ``--baseline-rev`` (``git show``
  into a temporary module of the package; ``json.load`` of the whole
  source, the listing as Python ``(path, id)`` tuples, every batch index
  list built up front).

Two measurements:

- ``listing``: ``list_images`` alone;
- ``labeling``: ``label_images`` with the tiny RetinaNet teacher at random
  initialisation (every image then yields ``max_per_img`` = 100 boxes) on
  ``--image-size`` images. Labeling every image of 100k is too slow on a
  CPU, so the store is given finished chunks for all but ``--label``
  images (written with ``write_chunk_columns``, ``--boxes`` boxes per
  image) before the run, as a resumed job has them: the run lists all N
  images, labels the first ``--label`` ones and finalizes the store of N
  images.

With ``--task seg`` the labeling row is the segmentation labeler
(:func:`rethink_mmdet.seg.labeler.label_seg_images`: the tiny Semantic-FPN
at random init, six scales + flip, its test scale set to
``--image-size``); pre-written chunks then hold the per-image columns of the
segmentation store (no label maps: finalizing never reads them), and only
``new`` runs (the segmentation labeler has no older revision).

Example (the figures of docs/pseudo_labels.md)::

    OMP_NUM_THREADS=1 python tools/benchmark/labeler_memory.py \\
        --sizes 1000 10000 100000
    OMP_NUM_THREADS=1 python tools/benchmark/labeler_memory.py --task seg \\
        --kinds labeling --impls new --label 8 --sizes 1000 10000 100000
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = osp.join(REPO, 'configs', 'shapes',
                     'retinanet_r18-scratch_fpn_gn-all_shapes.py')
SEG_TEACHER = osp.join(REPO, 'configs', 'shapes', 'seg',
                       'fpn_r18-tiny-scratch_gn_shapes-seg.py')
#: --task -> the default teacher config.
TASK_CONFIGS = {'det': RETINANET, 'seg': SEG_TEACHER}
#: The last commit with the labeler this benchmark was written against.
BASELINE_REV = 'c197afa'
IMPLS = ('new', 'old')
KINDS = ('listing', 'labeling')


def status_mib(key):
    """``VmRSS`` / ``VmHWM`` of /proc/self/status in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak():
    """Reset ``VmHWM`` (Linux ``clear_refs`` 5) so that it holds the peak
    of what follows, not of the imports before. (``ru_maxrss`` is not
    used: Linux carries it over from the forking parent across exec.)"""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def prepare(work_dir, config, unique, sizes, image_size, task='det'):
    """Images, one COCO JSON per size and a random-init checkpoint."""
    from pseudo_label_throughput import cycled_images, random_init_checkpoint

    from rethink_mmdet.data import make_shapes
    from rethink_mmdet.data.shapes_seg import SEG_CLASSES
    root = osp.join(work_dir, 'shapes')
    make_shapes(root, 0, 0, unique, seed=0, image_size=image_size)
    names = sorted(os.listdir(osp.join(root, 'unlabeled')))
    for n in sizes:
        images = cycled_images(names, n, image_size)
        with open(osp.join(root, 'annotations', f'image_info_{n}.json'),
                  'w') as f:
            json.dump(dict(images=images), f)
    classes = SEG_CLASSES if task == 'seg' else None
    return root, random_init_checkpoint(config, work_dir, classes)


def prewrite_chunks(out, n, first_image, chunk_size, boxes):
    """Finished chunks for images ``first_image..n-1`` (as a resumed run
    finds them), ``boxes`` boxes per image, built vectorised."""
    import numpy as np

    from rethink_mmdet.self_training.store import offsets, write_chunk_columns
    for c in range(first_image // chunk_size, -(-n // chunk_size)):
        a, b = c * chunk_size, min((c + 1) * chunk_size, n)
        k = b - a
        paths = [f'{i:06d}.png'.encode() for i in range(a, b)]
        rng = np.random.default_rng(c)
        xy = rng.uniform(0, 32, (k * boxes, 2)).astype(np.float32)
        write_chunk_columns(
            out, c, a, {
                'image_ids.npy': np.arange(a + 1, b + 1),
                'image_hw.npy': np.full((k, 2), 64),
                'image_paths.bin': b''.join(paths),
                'image_path_offsets.npy': offsets([len(p) for p in paths]),
                'box_offsets.npy': offsets([boxes] * k),
                'boxes.npy': np.concatenate([xy, xy + 8], 1),
                'scores.npy': rng.uniform(0.05, 1, k * boxes),
                'labels.npy': rng.integers(0, 4, k * boxes),
            })


def prewrite_seg_chunks(out, n, first_image, chunk_size):
    """Finished segmentation chunks for images ``first_image..n-1`` (their
    per-image columns; finalizing does not read the label maps)."""
    import numpy as np

    from rethink_mmdet.seg.pseudo_store import SEG_COLUMNS
    from rethink_mmdet.self_training.store import offsets, write_chunk_columns
    dtypes = {k: v[0] for k, v in SEG_COLUMNS.items()}
    for c in range(first_image // chunk_size, -(-n // chunk_size)):
        a, b = c * chunk_size, min((c + 1) * chunk_size, n)
        paths = [f'{i:06d}.png'.encode() for i in range(a, b)]
        rng = np.random.default_rng(c)
        write_chunk_columns(
            out, c, a, {
                'image_ids.npy': np.arange(a + 1, b + 1),
                'image_hw.npy': np.full((b - a, 2), 64),
                'image_paths.bin': b''.join(paths),
                'image_path_offsets.npy': offsets([len(p) for p in paths]),
                'source_indexes.npy': np.arange(a, b),
                'mean_confidence.npy': rng.uniform(0.3, 1, b - a),
                'ignore_fraction.npy': rng.uniform(0, 1, b - a),
            }, (), dtypes)


def seg_labeler_call(args, source, root):
    """``label_seg_images`` of the seg teacher, its test scale set to the
    image size."""
    from mmengine.config import Config

    from rethink_mmdet.seg.labeler import label_seg_images
    cfg = Config.fromfile(args.config)
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (args.image_size, args.image_size)
    return label_seg_images(
        cfg,
        args.checkpoint,
        source,
        args.out,
        chunk_size=args.chunk_size,
        batch_size=1,
        num_workers=0,
        img_root=root)


def load_labeler(impl, rev):
    """This checkout's labeler module, or that of git revision ``rev``
    imported as a module of the package (its relative imports resolve)."""
    if impl == 'new':
        from rethink_mmdet.self_training import labeler
        return labeler
    text = subprocess.run(
        ['git', 'show', f'{rev}:rethink_mmdet/self_training/labeler.py'],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True).stdout
    import rethink_mmdet.self_training as pkg
    path = osp.join(tempfile.mkdtemp(prefix='labeler_old_'), 'labeler.py')
    with open(path, 'w') as f:
        f.write(text)
    name = f'{pkg.__name__}._labeler_{rev}'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def child(args):
    """One (kind, impl, size) in this process; prints a JSON line."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    import rethink_mmdet  # noqa: F401
    torch.set_num_threads(1)
    labeler = load_labeler(args.impl, args.baseline_rev)
    MMLogger.get_instance('labeler_memory', log_level='WARNING')
    n = args.size
    source = osp.join(args.work_dir, 'shapes', 'annotations',
                      f'image_info_{n}.json')
    root = osp.join(args.work_dir, 'shapes', 'unlabeled')
    before = status_mib('VmRSS')
    import_peak = status_mib('VmHWM')
    reset_peak()
    start = time.perf_counter()
    if args.kind == 'listing':
        items, _ = labeler.list_images(source, root)
        assert len(items) == n
    elif args.task == 'seg':
        meta = seg_labeler_call(args, source, root)
        assert meta['num_images'] == n, meta['num_images']
    else:
        meta = labeler.label_images(
            Config.fromfile(args.config),
            args.checkpoint,
            source,
            args.out,
            score_thr=0.05,
            chunk_size=args.chunk_size,
            batch_size=1,
            num_workers=0,
            img_root=root)
        assert meta['num_images'] == n, meta['num_images']
    print(
        'RESULT ' + json.dumps(
            dict(
                kind=args.kind,
                impl=args.impl,
                images=n,
                seconds=time.perf_counter() - start,
                rss_before_mib=before,
                rss_after_mib=status_mib('VmRSS'),
                work_peak_mib=status_mib('VmHWM'),
                peak_rss_mib=max(import_peak, status_mib('VmHWM')))),
        flush=True)


def run_child(args, kind, impl, n):
    out = osp.join(args.work_dir, f'store_{kind}_{impl}_{n}')
    shutil.rmtree(out, ignore_errors=True)
    if kind == 'labeling' and args.task == 'seg':
        prewrite_seg_chunks(out, n, min(args.label, n), args.chunk_size)
    elif kind == 'labeling':
        prewrite_chunks(out, n, min(args.label, n), args.chunk_size,
                        args.boxes)
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--config', args.config, '--work-dir',
        args.work_dir, '--chunk-size',
        str(args.chunk_size), '--baseline-rev', args.baseline_rev, '--task',
        args.task, '--image-size',
        str(args.image_size), '--child', kind, impl,
        str(n), out, args.checkpoint
    ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    lines = [
        line for line in proc.stdout.splitlines() if line.startswith('RESULT ')
    ]
    if proc.returncode != 0 or not lines:
        sys.exit(f'{kind} {impl} on {n} images failed:\n'
                 f'{proc.stderr[-4000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def table(rows, kind, sizes, key, title):
    print(f'\n{kind}: {title} (MiB)')
    print('| images | new | old | new vs smallest | old vs smallest |')
    print('|---:|---:|---:|---:|---:|')
    got = {(r['impl'], r['images']): r for r in rows if r['kind'] == kind}
    first = min(sizes)
    for n in sizes:
        cells = []
        for impl in IMPLS:
            r = got.get((impl, n))
            cells.append(f'{r[key]:.1f}' if r else '-')
        for impl in IMPLS:
            r, r0 = got.get((impl, n)), got.get((impl, first))
            if r and r0:
                growth = r[key] / r0[key] - 1
                cells.append(f'{100 * growth:+.1f}%')
            else:
                cells.append('-')
        print(f'| {n:,} | ' + ' | '.join(cells) + ' |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', choices=tuple(TASK_CONFIGS), default='det')
    parser.add_argument(
        '--config', default=None, help='default: the --task\'s tiny teacher')
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[1000, 10000, 100000])
    parser.add_argument(
        '--listing-sizes',
        type=int,
        nargs='*',
        default=None,
        help='extra sizes measured for listing only (e.g. 1280000)')
    parser.add_argument('--kinds', nargs='+', choices=KINDS, default=KINDS)
    parser.add_argument('--impls', nargs='+', choices=IMPLS, default=IMPLS)
    parser.add_argument('--unique', type=int, default=16)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument(
        '--label', type=int, default=256, help='images labeled per run')
    parser.add_argument(
        '--boxes', type=int, default=100, help='boxes per pre-written image')
    parser.add_argument('--chunk-size', type=int, default=256)
    parser.add_argument('--baseline-rev', default=BASELINE_REV)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--child', nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.config = args.config or TASK_CONFIGS[args.task]
        args.kind, args.impl, size, args.out, args.checkpoint = args.child
        args.size = int(size)
        return child(args)

    args.config = args.config or TASK_CONFIGS[args.task]
    if args.task == 'seg' and 'old' in args.impls:
        parser.error('--task seg measures the new labeler only: --impls new')
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='lm_bench_')
    listing_sizes = sorted(set(args.sizes) | set(args.listing_sizes or ()))
    _, args.checkpoint = prepare(args.work_dir, args.config, args.unique,
                                 listing_sizes, args.image_size, args.task)
    rows = []
    for kind in args.kinds:
        for n in (listing_sizes if kind == 'listing' else args.sizes):
            for impl in args.impls:
                rows.append(run_child(args, kind, impl, n))
                r = rows[-1]
                print(
                    f'done: {kind} {impl} {n} images in {r["seconds"]:.1f} s'
                    f', peak {r["peak_rss_mib"]:.1f} MiB',
                    file=sys.stderr,
                    flush=True)
    print(f'\n{osp.basename(args.config)} at random init, '
          f'{args.image_size}px images, 1 process, 1 thread, no loader '
          f'workers, chunk {args.chunk_size}; labeling: {args.label} images '
          f'labeled, the rest in pre-written chunks of {args.boxes} boxes '
          f'per image; baseline: labeler of {args.baseline_rev}')
    for kind in args.kinds:
        sizes = listing_sizes if kind == 'listing' else args.sizes
        table(rows, kind, sizes, 'peak_rss_mib',
              'peak RSS of the process (VmHWM: imports and the work)')
        table(rows, kind, sizes, 'work_peak_mib',
              f'peak RSS during {kind} (VmHWM reset after the imports)')
    print('\nRESULTS ' + json.dumps(rows))


if __name__ == '__main__':
    main()
