"""Why the pseudo-label store is NumPy .npy columns: a measurement.

Writes the same N images x B boxes (boxes, scores, labels, per-image
offsets) once as NumPy ``.npy`` files and once as an Arrow IPC file
(uncompressed, the memory-mappable Arrow format), then, each in a fresh
process, measures the open time, the resident memory after opening and the
mean time to read one random image's boxes. Needs ``pyarrow`` (optional;
not a dependency of rethink_mmdet)::

    python tools/benchmark/store_format_choice.py --images 1280000 --boxes 4
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import tempfile

import numpy as np

READER = r'''
import json, os, sys, time
import numpy as np
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
kind, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
import pyarrow as pa, pyarrow.ipc  # import cost outside the timing
base = rss(); t = time.perf_counter()
if kind == 'npy':
    cols = {k: np.load(os.path.join(root, k + '.npy'), mmap_mode='r')
            for k in ('offsets', 'boxes', 'scores', 'labels')}
    get = lambda k: cols[k]
else:
    source = pa.memory_map(os.path.join(root, 'labels.arrow'))
    table = pa.ipc.open_file(source).read_all()
    offsets = np.load(os.path.join(root, 'offsets.npy'), mmap_mode='r')
    cols = {'offsets': offsets}
    get = lambda k: cols[k] if k == 'offsets' else table.column(k)
opened = time.perf_counter() - t
after = rss() - base
idx = np.random.default_rng(0).integers(0, n, 10000)
t = time.perf_counter()
for i in idx:
    a, b = int(get('offsets')[i]), int(get('offsets')[i + 1])
    if kind == 'npy':
        boxes = np.asarray(get('boxes')[a:b])
    else:
        boxes = get('boxes').slice(a, b - a).to_numpy(zero_copy_only=False)
read_us = (time.perf_counter() - t) / len(idx) * 1e6
print(json.dumps(dict(open_s=opened, rss_mb=after, read_us=read_us)))
'''


def write(root, n, b):
    rng = np.random.default_rng(0)
    m = n * b
    offsets = np.arange(0, m + 1, b, dtype=np.int64)
    boxes = rng.random((m, 4), dtype=np.float32) * 500
    scores = rng.random(m, dtype=np.float32)
    labels = rng.integers(0, 80, m).astype(np.int32)
    np.save(osp.join(root, 'offsets.npy'), offsets)
    for k, v in (('boxes', boxes), ('scores', scores), ('labels', labels)):
        np.save(osp.join(root, k + '.npy'), v)
    import pyarrow as pa
    import pyarrow.ipc
    flat = pa.array(boxes.reshape(-1))
    table = pa.table({
        'boxes': pa.FixedSizeListArray.from_arrays(flat, 4),
        'scores': scores,
        'labels': labels
    })
    with pa.OSFile(osp.join(root, 'labels.arrow'), 'wb') as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=1_280_000)
    parser.add_argument('--boxes', type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        write(root, args.images, args.boxes)
        print(f'{args.images} images x {args.boxes} boxes')
        print('| format | open (s) | RSS after open (MB) '
              '| random image read (us) |')
        print('|---|---:|---:|---:|')
        for kind, label in (('npy', 'NumPy .npy, mmap'),
                            ('arrow', 'Arrow IPC, memory-mapped')):
            out = subprocess.run(
                [sys.executable, '-c', READER, kind, root,
                 str(args.images)],
                capture_output=True,
                text=True,
                check=True).stdout
            r = json.loads(out)
            print(f'| {label} | {r["open_s"]:.4f} | {r["rss_mb"]:.1f} | '
                  f'{r["read_us"]:.1f} |')


if __name__ == '__main__':
    main()
