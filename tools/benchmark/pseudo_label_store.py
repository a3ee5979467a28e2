"""Open time, resident memory and random access of the pseudo-label store
versus the same labels as a COCO JSON loaded by mmdet's ``CocoDataset``.

For every size N it generates N images x ``--boxes`` random pseudo labels
(seed 0; generation is not timed), finalizes them into a store and, for the
``--coco-sizes``, writes them as a COCO JSON too. Every measurement runs in a
fresh subprocess (RSS deltas are comparable; the page cache is warm since
the files were just written). Example::

    python tools/benchmark/pseudo_label_store.py \\
        --sizes 10000 100000 1280000 --coco-sizes 10000 100000
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
    hw = np.stack([rng.integers(240, 800, n), rng.integers(240, 800, n)],
                  1).astype(np.int32)
    img_of_box = np.repeat(np.arange(n), boxes_per_image)
    xy = rng.uniform(0, 1, (m, 2)) * hw[img_of_box, ::-1] * 0.7
    wh = rng.uniform(0.05, 0.3, (m, 2)) * hw[img_of_box, ::-1]
    paths = [f'train/n{(first + i) % 1000:08d}/img_{first + i:08d}.JPEG'
             .encode() for i in range(n)]
    return {
        S.IMAGE_IDS: np.arange(first + 1, first + n + 1, dtype=np.int64),
        S.IMAGE_HW: hw,
        S.IMAGE_PATHS: b''.join(paths),
        S.IMAGE_PATH_OFFSETS: S._offsets([len(p) for p in paths]),
        S.BOX_OFFSETS: np.arange(n + 1, dtype=np.int64) * boxes_per_image,
        S.BOXES: np.concatenate([xy, xy + wh], 1).astype(np.float32),
        S.SCORES: rng.uniform(0.3, 1, m).astype(np.float32),
        S.LABELS: rng.integers(0, NUM_CLASSES, m).astype(np.int32),
    }


def generate_store(store_dir, num_images, boxes_per_image):
    from rethink_mmdet.self_training import finalize_store
    from rethink_mmdet.self_training.store import _write_chunk_columns
    rng = np.random.default_rng(0)
    for c, first in enumerate(range(0, num_images, GEN_CHUNK)):
        n = min(GEN_CHUNK, num_images - first)
        _write_chunk_columns(store_dir, c, first,
                             _generated_columns(rng, first, n,
                                                boxes_per_image))
    finalize_store(store_dir, {
        'classes': CLASSES, 'score_floor': 0.3, 'chunk_size': GEN_CHUNK,
        'source': {'kind': 'list', 'path': 'generated'},
        'created_by': 'tools/benchmark/pseudo_label_store.py'})


def measure_store(store_dir):
    from rethink_mmdet.self_training import PseudoLabelStore
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    store = PseudoLabelStore(store_dir)
    t_open = time.perf_counter() - t0
    rss1 = _rss_bytes()
    idx = np.random.default_rng(1).integers(0, len(store), RANDOM_READS)
    t0 = time.perf_counter()
    for i in idx:
        store.image(i)
    t_read = (time.perf_counter() - t0) / RANDOM_READS
    return dict(open_s=t_open, rss_mb=(rss1 - rss0) / 2**20,
                read_us=t_read * 1e6, n=len(store))


def measure_coco(ann_file):
    from mmdet.datasets import CocoDataset
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    ds = CocoDataset(
        ann_file=ann_file, data_root='', data_prefix=dict(img=''),
        metainfo=dict(classes=tuple(CLASSES)), filter_cfg=None,
        lazy_init=False, serialize_data=True, pipeline=[],
        backend_args=None)
    t_open = time.perf_counter() - t0
    rss1 = _rss_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    idx = np.random.default_rng(1).integers(0, len(ds), RANDOM_READS)
    t0 = time.perf_counter()
    for i in idx:
        ds.get_data_info(int(i))
    t_read = (time.perf_counter() - t0) / RANDOM_READS
    return dict(open_s=t_open, rss_mb=(rss1 - rss0) / 2**20,
                peak_mb=(peak - rss0) / 2**20, read_us=t_read * 1e6,
                n=len(ds))


def write_coco(store_dir, out_file):
    """The store's labels as a COCO JSON (``export_coco``)."""
    from rethink_mmdet.self_training import export_coco
    export_coco(store_dir, out_file)


def _in_subprocess(kind, path):
    out = subprocess.run(
        [sys.executable, __file__, '--measure', kind, path],
        capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f'{kind} measurement of {path} failed:\n'
                           f'{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[10000, 100000, 1280000])
    parser.add_argument('--coco-sizes', type=int, nargs='*',
                        default=[10000, 100000],
                        help='sizes also measured as COCO JSON + '
                        'CocoDataset (memory and time grow fast)')
    parser.add_argument('--boxes', type=int, default=4)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--measure', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, path = args.measure
        fn = measure_store if kind == 'store' else measure_coco
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
    print('| images | format | files (MB) | open (s) | RSS after open (MB) '
          '| peak RSS (MB) | random image read (us) |')
    print('|---:|---|---:|---:|---:|---:|---:|')
    for n, kind, r, size_mb in rows:
        peak = f'{r["peak_mb"]:.0f}' if 'peak_mb' in r else '-'
        print(f'| {n:,} | {kind} | {size_mb:.0f} | {r["open_s"]:.3f} | '
              f'{r["rss_mb"]:.1f} | {peak} | {r["read_us"]:.1f} |')
    stores = {n: r for n, k, r, _ in rows if k == 'store'}
    cocos = {n: r for n, k, r, _ in rows if k == 'CocoDataset'}
    for n in sorted(set(stores) & set(cocos)):
        s, c = stores[n], cocos[n]
        print(f'{n:,} images: store opens {c["open_s"] / s["open_s"]:.0f}x '
              f'faster, {c["rss_mb"] / max(s["rss_mb"], 0.1):.0f}x less '
              'resident memory than CocoDataset')


if __name__ == '__main__':
    main()
