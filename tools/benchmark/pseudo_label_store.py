"""Ready time, resident memory and random access of what a student opens:
the raw pseudo-label store, ``PseudoLabelDataset`` with a threshold applied
(its ``full_init``), and the same labels as a COCO JSON loaded by mmdet's
``CocoDataset``, side by side in one run.

For every size N it generates N images x ``--boxes`` random pseudo labels
(seed 0; generation is not timed), finalizes them into a store and, for the
``--coco-sizes``, writes them as a COCO JSON too. Every measurement runs in a
fresh subprocess (RSS deltas are comparable; the page cache is warm since
the files were just written). At 1.28M images ``CocoDataset`` takes about
90 s and several GB: run it once, e.g.::

    nice -n 10 python tools/benchmark/pseudo_label_store.py \\
        --sizes 100000 1280000 --coco-sizes 100000 1280000
"""
import argparse
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

NUM_CLASSES = 80
GEN_CHUNK = 100000
RANDOM_READS = 10000
SCORE_THR = 0.5  # Zoph et al. 2020's threshold (the generator's floor: 0.3)
CLASSES = [f'class_{i}' for i in range(NUM_CLASSES)]


def _rss_bytes():
    """Resident set size of this process (psutil if present, else
    /proc/self/statm)."""
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _generated_columns(rng, first, n, boxes_per_image):
    """Random columns of images ``first .. first + n - 1`` (store layout)."""
    from rethink_mmdet.self_training import store as S
    m = n * boxes_per_image
    hw = np.stack([rng.integers(240, 800, n),
                   rng.integers(240, 800, n)], 1).astype(np.int32)
    img_of_box = np.repeat(np.arange(n), boxes_per_image)
    xy = rng.uniform(0, 1, (m, 2)) * hw[img_of_box, ::-1] * 0.7
    wh = rng.uniform(0.05, 0.3, (m, 2)) * hw[img_of_box, ::-1]
    paths = [
        f'train/n{(first + i) % 1000:08d}/img_{first + i:08d}.JPEG'.encode()
        for i in range(n)
    ]
    return {
        S.IMAGE_IDS: np.arange(first + 1, first + n + 1, dtype=np.int64),
        S.IMAGE_HW: hw,
        S.IMAGE_PATHS: b''.join(paths),
        S.IMAGE_PATH_OFFSETS: S.offsets([len(p) for p in paths]),
        S.BOX_OFFSETS: np.arange(n + 1, dtype=np.int64) * boxes_per_image,
        S.BOXES: np.concatenate([xy, xy + wh], 1).astype(np.float32),
        S.SCORES: rng.uniform(0.3, 1, m).astype(np.float32),
        S.LABELS: rng.integers(0, NUM_CLASSES, m).astype(np.int32),
    }


def generate_store(store_dir, num_images, boxes_per_image):
    from rethink_mmdet.self_training.store import (finalize_store,
                                                   write_chunk_columns)
    rng = np.random.default_rng(0)
    for c, first in enumerate(range(0, num_images, GEN_CHUNK)):
        n = min(GEN_CHUNK, num_images - first)
        write_chunk_columns(store_dir, c, first,
                            _generated_columns(rng, first, n, boxes_per_image))
    finalize_store(
        store_dir, {
            'classes': CLASSES,
            'score_floor': 0.3,
            'chunk_size': GEN_CHUNK,
            'source': {
                'kind': 'list',
                'path': 'generated'
            },
            'created_by': 'tools/benchmark/pseudo_label_store.py'
        })


def _reset_peak_rss():
    """Reset the kernel's peak-RSS mark (VmHWM) of this process, so that
    the peak measured next is the opening's, not the imports' (Linux)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_rss_bytes():
    """Peak RSS since the last reset: VmHWM, else ru_maxrss."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(open_fn, read_fn):
    """Time and resident memory added by ``open_fn()`` (at the end and at
    the peak), then the mean time of ``read_fn(opened, i)`` over random
    items."""
    rss0 = _rss_bytes()
    _reset_peak_rss()
    t0 = time.perf_counter()
    opened = open_fn()
    t_open = time.perf_counter() - t0
    rss1 = _rss_bytes()
    peak = _peak_rss_bytes()
    idx = np.random.default_rng(1).integers(0, len(opened), RANDOM_READS)
    t0 = time.perf_counter()
    for i in idx:
        read_fn(opened, int(i))
    t_read = (time.perf_counter() - t0) / RANDOM_READS
    return dict(
        open_s=t_open,
        rss_mb=(rss1 - rss0) / 2**20,
        peak_mb=(peak - rss0) / 2**20,
        read_us=t_read * 1e6,
        n=len(opened))


def measure_store(store_dir):
    """The raw store: ``PseudoLabelStore`` opened, ``image(i)`` read."""
    from rethink_mmdet.self_training import PseudoLabelStore
    return _measure(lambda: PseudoLabelStore(store_dir),
                    lambda store, i: store.image(i))


def measure_dataset(store_dir, score_thr=SCORE_THR):
    """``PseudoLabelDataset(score_thr=...)`` ready to serve (``full_init``:
    the keep rule over every box), as a student's dataloader builds it."""
    from rethink_mmdet.self_training import PseudoLabelDataset
    return _measure(
        lambda: PseudoLabelDataset(
            store=store_dir,
            score_thr=score_thr,
            check_files=False,
            pipeline=[]), lambda ds, i: ds.get_data_info(i))


def measure_coco(ann_file):
    """mmdet's ``CocoDataset`` on the same labels as a COCO JSON."""
    from mmdet.datasets import CocoDataset
    return _measure(
        lambda: CocoDataset(
            ann_file=ann_file,
            data_root='',
            data_prefix=dict(img=''),
            metainfo=dict(classes=tuple(CLASSES)),
            filter_cfg=None,
            lazy_init=False,
            serialize_data=True,
            pipeline=[],
            backend_args=None), lambda ds, i: ds.get_data_info(i))


def write_coco(store_dir, out_file):
    """The store's labels as a COCO JSON (``export_coco``)."""
    from rethink_mmdet.self_training import export_coco
    export_coco(store_dir, out_file)


def _in_subprocess(kind, path):
    out = subprocess.run([sys.executable, __file__, '--measure', kind, path],
                         capture_output=True,
                         text=True,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f'{kind} measurement of {path} failed:\n'
                           f'{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[10000, 100000, 1280000])
    parser.add_argument(
        '--coco-sizes',
        type=int,
        nargs='*',
        default=[10000, 100000],
        help='sizes also measured as COCO JSON + '
        'CocoDataset (memory and time grow fast)')
    parser.add_argument('--boxes', type=int, default=4)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--measure', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, path = args.measure
        fn = dict(
            store=measure_store, dataset=measure_dataset,
            coco=measure_coco)[kind]
        print(json.dumps(fn(path)))
        return

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='pl_store_bench_')
    rows = []
    try:
        for n in args.sizes:
            store_dir = osp.join(work_dir, f'store_{n}')
            if not osp.isfile(osp.join(store_dir, 'meta.json')):
                generate_store(store_dir, n, args.boxes)
            size_mb = sum(
                osp.getsize(osp.join(store_dir, f))
                for f in os.listdir(store_dir)) / 2**20
            r = _in_subprocess('store', store_dir)
            rows.append((n, 'store', r, size_mb))
            r = _in_subprocess('dataset', store_dir)
            rows.append(
                (n, f'PseudoLabelDataset(score_thr={SCORE_THR})', r, size_mb))
            if n in args.coco_sizes:
                ann = osp.join(work_dir, f'coco_{n}.json')
                if not osp.isfile(ann):
                    write_coco(store_dir, ann)
                r = _in_subprocess('coco', ann)
                rows.append((n, 'CocoDataset', r, osp.getsize(ann) / 2**20))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)

    print(f'{args.boxes} boxes/image, {NUM_CLASSES} classes, python '
          f'{sys.version.split()[0]}, numpy {np.__version__}, '
          f'{os.cpu_count()} CPUs')
    print('| images | format | files (MB) | ready (s) | RSS added (MB) '
          '| peak RSS added (MB) | random image read (us) |')
    print('|---:|---|---:|---:|---:|---:|---:|')
    for n, kind, r, size_mb in rows:
        peak = f'{r["peak_mb"]:.0f}'
        print(f'| {n:,} | {kind} | {size_mb:.0f} | {r["open_s"]:.3f} | '
              f'{r["rss_mb"]:.1f} | {peak} | {r["read_us"]:.1f} |')
    datasets = {n: r for n, k, r, _ in rows if k.startswith('Pseudo')}
    cocos = {n: r for n, k, r, _ in rows if k == 'CocoDataset'}
    for n in sorted(set(datasets) & set(cocos)):
        s, c = datasets[n], cocos[n]
        print(f'{n:,} images: PseudoLabelDataset is ready '
              f'{c["open_s"] / s["open_s"]:.0f}x faster, with '
              f'{c["rss_mb"] / max(s["rss_mb"], 0.1):.0f}x less resident '
              'memory than CocoDataset')


if __name__ == '__main__':
    main()
