"""Writing the labeler's chunks of a pseudo-label store (see :mod:`.layout`).

A chunk holds the labels of consecutive images; it is written into a
temporary directory and renamed into place, so an existing ``chunk-%06d/``
is complete and a killed writer leaves no half chunk behind.
"""
import os
import os.path as osp
import shutil
import tempfile

import numpy as np

from rethink_mmdet.utils import dump_json
from .columns import offsets, save_bin, save_npy
from .layout import (BOX_OFFSETS, BOXES, CHUNK_META_FILE, CHUNK_NAME,
                     CHUNK_PATTERN, CHUNK_TMP_PREFIX, CHUNKS_DIR, IMAGE_HW,
                     IMAGE_IDS, IMAGE_PATH_OFFSETS, IMAGE_PATHS, LABELS,
                     MASK_RLE, MASK_RLE_OFFSETS, NPY_COLUMNS, SCORES,
                     PseudoLabelStoreError)


def records_to_columns(records, where):
    """Turn a list of image records into the chunk's column arrays."""
    n = len(records)
    image_ids = np.zeros(n, np.int64)
    image_hw = np.zeros((n, 2), np.int32)
    path_bytes, box_counts = [], np.zeros(n, np.int64)
    boxes, scores, labels, rles = [], [], [], []
    has_masks = any(r.get('masks_rle') is not None for r in records)
    for i, r in enumerate(records):
        try:
            image_ids[i] = r['image_id']
            image_hw[i] = (r['height'], r['width'])
            path_bytes.append(str(r['path']).encode('utf-8'))
            b = np.asarray(r['boxes'], np.float32).reshape(-1, 4)
            s = np.asarray(r['scores'], np.float32).reshape(-1)
            lab = np.asarray(r['labels'], np.int64).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise PseudoLabelStoreError(
                f'{where}: record {i} ({r.get("path")!r}) is malformed: '
                f'{type(e).__name__} {e}') from e
        k = len(b)
        if len(s) != k or len(lab) != k:
            raise PseudoLabelStoreError(
                f'{where}: record {i} ({r["path"]!r}) has {k} boxes, '
                f'{len(s)} scores and {len(lab)} labels')
        if k and (lab.min() < 0 or lab.max() > np.iinfo(np.int32).max):
            raise PseudoLabelStoreError(
                f'{where}: record {i} ({r["path"]!r}) has label '
                f'{int(lab.min())}, labels index meta classes (>= 0)')
        masks = r.get('masks_rle')
        if has_masks:
            if masks is None and k:
                raise PseudoLabelStoreError(
                    f'{where}: record {i} ({r["path"]!r}) has no masks_rle '
                    'while other records of the chunk have masks')
            masks = [] if masks is None else list(masks)
            if len(masks) != k:
                raise PseudoLabelStoreError(
                    f'{where}: record {i} ({r["path"]!r}) has {k} boxes and '
                    f'{len(masks)} masks_rle')
            rles.extend(
                m.decode('ascii') if isinstance(m, bytes) else m
                for m in masks)
        box_counts[i] = k
        boxes.append(b)
        scores.append(s)
        labels.append(lab.astype(np.int32))
    cols = {
        IMAGE_IDS: image_ids,
        IMAGE_HW: image_hw,
        IMAGE_PATHS: b''.join(path_bytes),
        IMAGE_PATH_OFFSETS: offsets([len(p) for p in path_bytes]),
        BOX_OFFSETS: offsets(box_counts),
        BOXES: np.concatenate(boxes) if n else np.zeros((0, 4), np.float32),
        SCORES: np.concatenate(scores) if n else np.zeros(0, np.float32),
        LABELS: np.concatenate(labels) if n else np.zeros(0, np.int32),
    }
    if has_masks:
        encoded = [m.encode('utf-8') for m in rles]
        cols[MASK_RLE] = b''.join(encoded)
        cols[MASK_RLE_OFFSETS] = offsets([len(m) for m in encoded])
    return cols


def write_chunk_columns(store_dir,
                        chunk_index,
                        first_image_index,
                        columns,
                        skipped=(),
                        dtypes=None):
    """Write already-built column arrays as chunk ``chunk_index`` (atomic).

    ``columns`` maps the column file names of :mod:`.layout` to arrays
    (``.npy`` columns) or bytes (``.bin`` columns), mask columns optional.
    Used by :func:`write_chunk` and by writers that build columns
    vectorised (e.g. generators of large synthetic stores, which would be
    slow one record dict at a time).

    Args:
        store_dir (str): The store directory.
        chunk_index (int): Index of the chunk.
        first_image_index (int): Index, in source order, of the chunk's
            first image.
        columns (dict): The columns.
        skipped (Sequence[dict]): As in :func:`write_chunk`. Defaults to ().
        dtypes (dict, optional): ``.npy`` column name -> dtype, for chunks
            of another column set (the segmentation store,
            :mod:`rethink_mmdet.seg.pseudo_store`). Defaults to None: the
            detection columns of :data:`~.layout.NPY_COLUMNS`; their
            ``chunk.json`` then counts ``num_boxes`` too.
    """
    chunks = osp.join(store_dir, CHUNKS_DIR)
    os.makedirs(chunks, exist_ok=True)
    final = osp.join(chunks, CHUNK_NAME % chunk_index)
    if osp.isdir(final):
        return  # complete already (renamed into place): first write wins
    tmp = tempfile.mkdtemp(
        dir=chunks, prefix=CHUNK_TMP_PREFIX + CHUNK_NAME % chunk_index + '-')
    try:
        for name, value in columns.items():
            if name.endswith('.bin'):
                save_bin(osp.join(tmp, name), bytes(value))
            else:
                dtype = (
                    dtypes[name]
                    if dtypes is not None else NPY_COLUMNS[name][0])
                save_npy(
                    osp.join(tmp, name),
                    np.ascontiguousarray(value, dtype=dtype))
        info = {
            'chunk_index': int(chunk_index),
            'first_image_index': int(first_image_index),
            'num_images': int(len(columns[IMAGE_IDS])),
        }
        if BOXES in columns:
            info.update(
                num_boxes=int(len(columns[BOXES])),
                has_masks=MASK_RLE in columns)
        info['skipped'] = [dict(s) for s in skipped]
        dump_json(info, osp.join(tmp, CHUNK_META_FILE), canonical=False)
        try:
            os.rename(tmp, final)
        except OSError:
            if not osp.isdir(final):  # not a concurrent duplicate write
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def write_chunk(store_dir, chunk_index, first_image_index, records,
                skipped=()):
    """Write the pseudo labels of consecutive images as one chunk.

    The chunk is written into a temporary directory under
    ``STORE/chunks/`` and renamed to ``chunk-%06d`` when complete, so a
    killed writer leaves no half chunk behind. Writing a chunk that already
    exists does nothing (the first complete write wins).

    Args:
        store_dir (str): The store directory.
        chunk_index (int): Index of the chunk; :func:`finalize_store`
            concatenates chunks in this order.
        first_image_index (int): Index, in source order, of the chunk's first
            image.
        records (list[dict]): One dict per labeled image in image order, with
            ``path`` (str), ``image_id`` (int), ``height``, ``width`` (int),
            ``boxes`` (float32 (k, 4) x1y1x2y2 in original pixels),
            ``scores`` (float32 (k,)), ``labels`` (int (k,), indexes into the
            meta classes) and ``masks_rle`` (list of k COCO compressed-RLE
            ``counts`` strings, or None without masks).
        skipped (Sequence[dict]): ``{'path', 'reason'}`` of the chunk's images
            that could not be labeled. Defaults to ().
    """
    where = osp.join(store_dir, CHUNKS_DIR, CHUNK_NAME % chunk_index)
    columns = records_to_columns(list(records), where)
    write_chunk_columns(store_dir, chunk_index, first_image_index, columns,
                        skipped)


def completed_chunks(store_dir):
    """Indexes of the chunks already written completely.

    Temporary directories of interrupted writes are not counted.

    Args:
        store_dir (str): The store directory.

    Returns:
        set[int]: The completed chunk indexes.
    """
    chunks = osp.join(store_dir, CHUNKS_DIR)
    if not osp.isdir(chunks):
        return set()
    done = set()
    for name in os.listdir(chunks):
        match = CHUNK_PATTERN.match(name)
        if match and osp.isfile(osp.join(chunks, name, CHUNK_META_FILE)):
            done.add(int(match.group(1)))
    return done
