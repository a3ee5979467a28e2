"""The pseudo-label store: chunked atomic writes, deterministic merge,
memory-mapped reads in dataloader workers, COCO interchange and every
bad-input error."""
import json
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
from pycocotools import mask as mask_utils

# yapf: disable  (isort's grid, which yapf would re-wrap)
from rethink_mmdet.self_training.store import (PseudoLabelStore,
                                               PseudoLabelStoreError,
                                               completed_chunks, export_coco,
                                               finalize_store,
                                               import_coco_results, layout,
                                               write_chunk)

# yapf: enable
CLASSES = ['circle', 'square', 'triangle']


def make_records(num, seed=0, masks=False, empty_every=3):
    """Random records; every ``empty_every``-th image has no box."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(num):
        h, w = int(rng.integers(8, 24)), int(rng.integers(8, 24))
        k = 0 if i % empty_every == 0 else int(rng.integers(1, 4))
        xy = rng.uniform(0, 6, (k, 2))
        wh = rng.uniform(1, 6, (k, 2))
        rec = {
            'path': f'unlabeled/img_{i:03d}_é.jpg',
            'image_id': 100 + 7 * i,
            'height': h,
            'width': w,
            'boxes': np.concatenate([xy, xy + wh], 1).astype(np.float32),
            'scores': rng.uniform(0, 1, k).astype(np.float32),
            'labels': rng.integers(0, len(CLASSES), k).astype(np.int32),
            'masks_rle': None,
        }
        if masks:
            bits = rng.random((h, w, k)) < 0.4
            rles = mask_utils.encode(np.asfortranarray(bits.astype(np.uint8)))
            rec['masks_rle'] = [r['counts'].decode() for r in rles]
        records.append(rec)
    return records


def write_all(store_dir, records, chunk_size, order=None, meta=None):
    """Write ``records`` as chunks of ``chunk_size`` (in ``order`` of chunk
    index) and finalize."""
    starts = list(range(0, len(records), chunk_size))
    order = range(len(starts)) if order is None else order
    for c in order:
        write_chunk(store_dir, c, starts[c],
                    records[starts[c]:starts[c] + chunk_size])
    return finalize_store(store_dir, meta or {
        'classes': CLASSES,
        'score_floor': 0.05
    })


def assert_record_equal(got, want):
    for key in ('path', 'image_id', 'height', 'width', 'masks_rle'):
        assert got[key] == want[key], key
    for key in ('boxes', 'scores', 'labels'):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert got['boxes'].dtype == np.float32 and got['boxes'].shape[1:] == (4, )


def column_bytes(store_dir):
    return {
        name: open(osp.join(store_dir, name), 'rb').read()
        for name in sorted(os.listdir(store_dir)) if name != layout.META_FILE
    }


def test_round_trip_chunks_out_of_order(tmp_path):
    records = make_records(10)
    meta = write_all(str(tmp_path), records, 4, order=[2, 0, 1])
    assert not osp.exists(tmp_path / layout.CHUNKS_DIR)
    store = PseudoLabelStore(str(tmp_path))
    assert len(store) == 10 and store.classes == tuple(CLASSES)
    assert not store.has_masks
    assert meta == store.meta
    assert (meta['format'], meta['format_version']) == (layout.FORMAT,
                                                        layout.FORMAT_VERSION)
    assert meta['num_images'] == 10 and meta['score_floor'] == 0.05
    assert meta['num_boxes'] == sum(len(r['boxes']) for r in records)
    for i, rec in enumerate(records):
        assert_record_equal(store.image(i), rec)
        assert store.path(i) == rec['path']
    assert_record_equal(store.image(-1), records[-1])
    with pytest.raises(IndexError):
        store.image(10)
    # vectorised columns agree with the records
    np.testing.assert_array_equal(store.image_ids,
                                  [r['image_id'] for r in records])
    np.testing.assert_array_equal(store.image_hw,
                                  [(r['height'], r['width']) for r in records])
    np.testing.assert_array_equal(
        store.scores, np.concatenate([r['scores'] for r in records]))
    assert isinstance(store.boxes, np.memmap)


def test_column_bytes_independent_of_order_and_ranks(tmp_path):
    records = make_records(11, masks=True)
    ref = str(tmp_path / 'one_rank')
    write_all(ref, records, 3)
    # three "ranks" writing interleaved chunks, rank 2 first, then an
    # interrupted run resumed from completed_chunks()
    other = str(tmp_path / 'three_ranks')
    starts = list(range(0, 11, 3))
    for rank in (2, 0):
        for c in range(rank, len(starts), 3):
            write_chunk(other, c, starts[c], records[starts[c]:starts[c] + 3])
    assert completed_chunks(other) == {0, 2, 3}
    todo = sorted(set(range(len(starts))) - completed_chunks(other))
    for c in todo:
        write_chunk(other, c, starts[c], records[starts[c]:starts[c] + 3])
    finalize_store(other, {'classes': CLASSES, 'score_floor': 0.05})
    want = column_bytes(ref)
    assert 'mask_rle.bin' in want and 'boxes.npy' in want
    assert column_bytes(other) == want


def test_masks_rle_round_trip(tmp_path):
    records = make_records(7, masks=True)
    write_all(str(tmp_path), records, 2)
    store = PseudoLabelStore(str(tmp_path))
    assert store.has_masks
    for i, rec in enumerate(records):
        got = store.image(i)
        assert got['masks_rle'] == rec['masks_rle']
        if got['masks_rle']:
            rles = [{
                'size': [rec['height'], rec['width']],
                'counts': c.encode()
            } for c in got['masks_rle']]
            want = [{
                'size': [rec['height'], rec['width']],
                'counts': c.encode()
            } for c in rec['masks_rle']]
            np.testing.assert_array_equal(
                mask_utils.decode(rles), mask_utils.decode(want))


def test_empty_images_and_empty_chunk(tmp_path):
    records = make_records(5, empty_every=1)  # no image has a box
    write_chunk(str(tmp_path), 0, 0, records[:2])
    write_chunk(
        str(tmp_path),
        1,
        2, [],
        skipped=[{
            'path': 'bad.jpg',
            'reason': 'unreadable'
        }])
    write_chunk(str(tmp_path), 2, 3, records[2:])
    meta = finalize_store(str(tmp_path), {'classes': CLASSES})
    store = PseudoLabelStore(str(tmp_path))
    assert (len(store), meta['num_boxes']) == (5, 0)
    assert meta['skipped'] == [{'path': 'bad.jpg', 'reason': 'unreadable'}]
    assert meta['num_skipped'] == 1
    got = store.image(3)
    assert got['boxes'].shape == (0, 4) and got['labels'].shape == (0, )
    assert_record_equal(got, records[3])


def test_export_coco_keeps_scores_and_imports_back(tmp_path):
    records = make_records(9, masks=True)
    src = str(tmp_path / 'src')
    write_all(src, records, 4)
    out = str(tmp_path / 'labels.json')
    coco = export_coco(src, out, score_thr=0.0)
    with open(out) as f:
        assert json.load(f) == coco
    n_boxes = sum(len(r['boxes']) for r in records)
    assert len(coco['annotations']) == n_boxes
    assert all('score' in a and 'segmentation' in a
               for a in coco['annotations'])
    assert [c['name'] for c in coco['categories']] == CLASSES
    # a score threshold drops boxes
    kept = export_coco(src, str(tmp_path / 'thr.json'), score_thr=0.5)
    assert len(kept['annotations']) == sum(
        int((r['scores'] >= 0.5).sum()) for r in records) < n_boxes

    dst = str(tmp_path / 'dst')
    meta = import_coco_results(out, out, dst, meta={'chunk_size': 2})
    assert meta['classes'] == CLASSES and meta['num_boxes'] == n_boxes
    store = PseudoLabelStore(dst)
    assert len(store) == len(records)
    for i, rec in enumerate(records):
        assert_record_equal(store.image(i), rec)
    # a store imported from results keeps the COCO category ids
    assert export_coco(dst, str(tmp_path / 'again.json'))['annotations'] == \
        coco['annotations']


def test_import_coco_results_list_polygons_and_floor(tmp_path):
    info = {
        'images': [{
            'id': 5,
            'file_name': 'b.jpg',
            'height': 10,
            'width': 12
        }, {
            'id': 2,
            'file_name': 'a.jpg',
            'height': 10,
            'width': 12
        }],
        'categories': [{
            'id': 18,
            'name': 'dog'
        }, {
            'id': 1,
            'name': 'person'
        }]
    }
    results = [
        {
            'image_id': 5,
            'category_id': 18,
            'bbox': [1, 2, 3, 4],
            'score': 0.9,
            'segmentation': [[1, 2, 4, 2, 4, 6, 1, 6]]
        },
        {
            'image_id': 5,
            'category_id': 1,
            'bbox': [0, 0, 2, 2],
            'score': 0.1,
            'segmentation': [[0, 0, 2, 0, 2, 2]]
        },
    ]
    (tmp_path / 'info.json').write_text(json.dumps(info))
    (tmp_path / 'res.json').write_text(json.dumps(results))
    meta = import_coco_results(
        str(tmp_path / 'res.json'),
        str(tmp_path / 'info.json'),
        str(tmp_path / 'store'),
        score_floor=0.5)
    assert meta['classes'] == ['person', 'dog']  # category id order
    store = PseudoLabelStore(str(tmp_path / 'store'))
    assert [store.path(i) for i in range(2)] == ['a.jpg', 'b.jpg']
    assert len(store.image(0)['boxes']) == 0
    got = store.image(1)
    np.testing.assert_array_equal(got['boxes'], [[1, 2, 4, 6]])
    np.testing.assert_array_equal(got['labels'], [1])
    mask = mask_utils.decode({
        'size': [10, 12],
        'counts': got['masks_rle'][0].encode()
    })
    assert mask.shape == (10, 12) and mask[4, 2] == 1 and mask[8, 8] == 0


@pytest.fixture
def good_store(tmp_path):
    store_dir = str(tmp_path / 'store')
    write_all(store_dir, make_records(6), 4)
    return store_dir


def _edit_meta(store_dir, **changes):
    path = osp.join(store_dir, layout.META_FILE)
    with open(path) as f:
        meta = json.load(f)
    meta.update(changes)
    with open(path, 'w') as f:
        json.dump(meta, f)


def test_error_missing_meta(good_store):
    os.remove(osp.join(good_store, layout.META_FILE))
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'meta\.json.*store incomplete: run/finish '
            r'tools/pseudo_label\.py'):
        PseudoLabelStore(good_store)


def test_error_chunks_not_finalized(tmp_path):
    write_chunk(str(tmp_path), 0, 0, make_records(2))
    with pytest.raises(PseudoLabelStoreError, match='store incomplete'):
        PseudoLabelStore(str(tmp_path))


@pytest.mark.parametrize('changes, pattern', [
    ({
        'format_version': 2
    }, r'meta\.json: format_version 2 is not supported'),
    ({
        'format': 'something.else'
    }, r'meta\.json: format .something\.else'),
])
def test_error_wrong_format_or_version(good_store, changes, pattern):
    _edit_meta(good_store, **changes)
    with pytest.raises(PseudoLabelStoreError, match=pattern):
        PseudoLabelStore(good_store)


def test_error_truncated_npy_file(good_store):
    path = osp.join(good_store, layout.BOXES)
    size = osp.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size - 16)
    with pytest.raises(PseudoLabelStoreError, match=r'boxes\.npy.*truncated'):
        PseudoLabelStore(good_store)


def test_error_short_column(good_store):
    scores = np.load(osp.join(good_store, layout.SCORES))
    np.save(osp.join(good_store, layout.SCORES), scores[:-1])
    with pytest.raises(
            PseudoLabelStoreError,
            match=rf'scores\.npy: {len(scores) - 1} records, '
            rf'expected {len(scores)}'):
        PseudoLabelStore(good_store)


def test_error_meta_count_mismatch(good_store):
    _edit_meta(good_store, num_images=7)
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'image_ids\.npy: 6 records but .*num_images=7'):
        PseudoLabelStore(good_store)


def test_error_offsets_not_monotonic(good_store):
    path = osp.join(good_store, layout.BOX_OFFSETS)
    off = np.load(path)
    assert off[3] > 0
    off[2] = off[3] + 1  # record 2 decreases to record 3
    np.save(path, off)
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'box_offsets\.npy: offsets not monotonic at '
            r'record 2'):
        PseudoLabelStore(good_store)


def test_error_label_out_of_classes(tmp_path):
    records = make_records(4)
    records[1]['labels'][:] = len(CLASSES)
    write_chunk(str(tmp_path), 0, 0, records)
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'chunk-000000/labels\.npy: box 0 has label 3'):
        finalize_store(str(tmp_path), {'classes': CLASSES})


def test_error_bad_record_names_chunk_and_record(tmp_path):
    records = make_records(3)
    records[2]['scores'] = records[2]['scores'][:0]
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'chunk-000004: record 2 .* has \d boxes, 0 '
            'scores'):
        write_chunk(str(tmp_path), 4, 0, records)
    assert completed_chunks(str(tmp_path)) == set()


def test_partial_chunk_is_not_completed(tmp_path):
    store_dir = str(tmp_path)
    records = make_records(6)
    write_chunk(store_dir, 0, 0, records[:3])
    write_chunk(store_dir, 1, 3, records[3:])
    chunks = osp.join(store_dir, layout.CHUNKS_DIR)
    # a writer killed mid-chunk leaves its temporary directory behind
    # (simulated by renaming chunk 1 back to a temporary name)
    os.rename(
        osp.join(chunks, layout.CHUNK_NAME % 1),
        osp.join(chunks,
                 layout.CHUNK_TMP_PREFIX + layout.CHUNK_NAME % 1 + '-x1'))
    # and a chunk directory without chunk.json is not complete either
    os.makedirs(osp.join(chunks, layout.CHUNK_NAME % 2))
    assert completed_chunks(store_dir) == {0}
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'tmp-chunk-000001-x1: partially written chunk '
            'chunk-000001.*store incomplete'):
        finalize_store(store_dir, {'classes': CLASSES})
    # a gap in the chunk indexes is reported as missing chunks
    shutil.rmtree(
        osp.join(chunks,
                 layout.CHUNK_TMP_PREFIX + layout.CHUNK_NAME % 1 + '-x1'))
    with pytest.raises(
            PseudoLabelStoreError, match=r'chunk-000002: partially written'):
        finalize_store(store_dir, {'classes': CLASSES})
    write_chunk(store_dir, 3, 3, [])
    shutil.rmtree(osp.join(chunks, layout.CHUNK_NAME % 2))
    with pytest.raises(
            PseudoLabelStoreError,
            match=r"\['chunk-000001', 'chunk-000002'\] missing "
            r'\(have 2 of 4\).*store incomplete'):
        finalize_store(store_dir, {'classes': CLASSES})
    shutil.rmtree(osp.join(chunks, layout.CHUNK_NAME % 3))
    # resuming writes the chunk; a leftover temporary directory of a chunk
    # completed later does not block finalizing
    write_chunk(store_dir, 1, 3, records[3:])
    os.makedirs(
        osp.join(chunks,
                 layout.CHUNK_TMP_PREFIX + layout.CHUNK_NAME % 0 + '-x0'))
    finalize_store(store_dir, {'classes': CLASSES})
    store = PseudoLabelStore(store_dir)
    assert len(store) == 6
    assert_record_equal(store.image(5), records[5])
    assert not osp.exists(chunks)


class _StoreDataset:
    """A minimal map-style dataset over a store, as a DataLoader sees it."""

    def __init__(self, store):
        self.store = store

    def __len__(self):
        return len(self.store)

    def __getitem__(self, i):
        import torch
        rec = self.store.image(i)
        return (i, os.getpid(), torch.from_numpy(rec['boxes']), rec['path'])


def test_pickle_and_forked_dataloader_workers(tmp_path):
    import torch
    records = make_records(8)
    write_all(str(tmp_path), records, 3)
    store = PseudoLabelStore(str(tmp_path))
    blob = pickle.dumps(store)
    assert len(blob) < 500  # the path only, no column data
    clone = pickle.loads(blob)
    assert clone._cols is None  # re-opens lazily
    assert_record_equal(clone.image(4), records[4])

    loader = torch.utils.data.DataLoader(
        _StoreDataset(store),
        batch_size=None,
        num_workers=2,
        multiprocessing_context='fork')
    seen, pids = {}, set()
    for i, pid, boxes, path in loader:
        seen[i] = (boxes.numpy(), path)
        pids.add(pid)
    assert os.getpid() not in pids and len(pids) == 2
    assert sorted(seen) == list(range(8))
    for i, (boxes, path) in seen.items():
        np.testing.assert_array_equal(boxes, records[i]['boxes'])
        assert path == records[i]['path']
