# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The segmentation pseudo-label store: label maps and their confidence.

Zoph et al. 2020, Sec. 3.2: the teacher's segmentation pseudo labels are
hard class maps, pixels whose averaged probability is below 0.5 set to the
ignore label. They are written as PNGs that mmseg's ``LoadAnnotations``
reads, next to compact per-image columns (the detection store's column
machinery, :mod:`rethink_mmdet.self_training.store`).

Layout of a store directory ``STORE/`` (``format_version`` 1):

- ``meta.json`` - written last (atomically) by :func:`finalize_seg_store`;
  its presence means the store is complete. ``format``
  (:data:`SEG_FORMAT`), ``classes``, ``ignore_index``, ``num_images``,
  ``skipped``, the run identity (``teacher``, ``source``, ``prob_thr``,
  ``scales``, ``flip``) and ``chunk_size``.
- ``labels/SSS/IIIIII.png`` - the label map of the source's image ``I``
  (its index in the listing, from 0), shard ``S = I // 1000`` (at most
  1000 files a folder): uint8, mode ``'L'``, no palette, the image's
  original size; ``0..C-1`` the class, ``ignore_index`` (255) ignored.
- per image, in store order (source order without the skipped images):
  ``image_ids.npy`` int64 (N,), ``image_hw.npy`` int32 (N, 2),
  ``image_paths.bin`` + ``image_path_offsets.npy`` int64 (N+1,) (paths
  relative to meta ``source.root``), ``source_indexes.npy`` int64 (N,)
  (the ``I`` of its label map), ``mean_confidence.npy`` float32 (N,) (mean
  over pixels of the highest averaged class probability) and
  ``ignore_fraction.npy`` float32 (N,) (fraction of pixels set to ignore).
- ``chunks/chunk-%06d/`` - the labeler's work in progress, the same
  columns per chunk (written with
  :func:`~rethink_mmdet.self_training.store.write_chunk_columns`); a
  chunk's label maps are written before the chunk is renamed into place,
  so a complete chunk has all of its maps.
"""
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image

from rethink_mmdet.self_training.store import completed_chunks, layout
from rethink_mmdet.self_training.store.columns import read_json
from rethink_mmdet.self_training.store.layout import (IMAGE_HW, IMAGE_IDS,
                                                      IMAGE_PATH_OFFSETS,
                                                      IMAGE_PATHS, META_FILE,
                                                      PseudoLabelStoreError)
from rethink_mmdet.self_training.store.merge import merge_column
from rethink_mmdet.utils import atomic_output, dump_json

__all__ = [
    'SEG_FORMAT', 'SEG_FORMAT_VERSION', 'LABELS_DIR', 'SHARD_SIZE',
    'SOURCE_INDEXES', 'MEAN_CONFIDENCE', 'IGNORE_FRACTION', 'SEG_COLUMNS',
    'label_relpath', 'write_label_map', 'finalize_seg_store'
]

SEG_FORMAT = 'rethink_mmdet.pseudo_seg_labels'
SEG_FORMAT_VERSION = 1
#: Folder of the label maps under the store.
LABELS_DIR = 'labels'
#: Label maps per shard folder.
SHARD_SIZE = 1000
SOURCE_INDEXES = 'source_indexes.npy'
MEAN_CONFIDENCE = 'mean_confidence.npy'
IGNORE_FRACTION = 'ignore_fraction.npy'
#: ``.npy`` column -> (dtype, trailing shape, offsets of a ``.bin``?).
SEG_COLUMNS = {
    IMAGE_IDS: (np.int64, (), None),
    IMAGE_HW: (np.int32, (2, ), None),
    IMAGE_PATH_OFFSETS: (np.int64, (), IMAGE_PATHS),
    SOURCE_INDEXES: (np.int64, (), None),
    MEAN_CONFIDENCE: (np.float32, (), None),
    IGNORE_FRACTION: (np.float32, (), None),
}
#: PNG compression of the label maps (zlib level: deterministic bytes).
PNG_COMPRESS_LEVEL = 6


def label_relpath(source_index: int) -> str:
    """``labels/SSS/IIIIII.png`` of the source's image ``source_index``."""
    return osp.join(LABELS_DIR, f'{source_index // SHARD_SIZE:03d}',
                    f'{source_index:06d}.png')


def write_label_map(store_dir: str, source_index: int,
                    label: np.ndarray) -> str:
    """Write one label map (atomic: a killed writer leaves no half PNG).

    Args:
        store_dir (str): The store directory.
        source_index (int): The image's index in the source listing.
        label (np.ndarray): (H, W) uint8 class map, ignore index included.

    Returns:
        str: The PNG's path.
    """
    path = osp.join(store_dir, label_relpath(source_index))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with atomic_output(path) as tmp:
        Image.fromarray(
            np.ascontiguousarray(label, np.uint8), mode='L').save(
                tmp, format='PNG', compress_level=PNG_COMPRESS_LEVEL)
    return path


def _scan_seg_chunks(store_dir):
    """Check the chunks are complete and consecutive; their infos in
    index order."""
    chunks = osp.join(store_dir, layout.CHUNKS_DIR)
    indexes = sorted(completed_chunks(store_dir))
    hint = layout.INCOMPLETE_HINT
    if not indexes:
        raise PseudoLabelStoreError(
            f'{chunks}: no completed chunk to finalize; {hint}')
    patterns = (layout.CHUNK_TMP_PATTERN, layout.CHUNK_PATTERN)
    for name in sorted(os.listdir(chunks)):
        match = patterns[0].match(name) or patterns[1].match(name)
        if match and int(match.group(1)) not in indexes:
            raise PseudoLabelStoreError(
                f'{osp.join(chunks, name)}: partially written chunk '
                f'(writer interrupted); {hint}')
    missing = sorted(set(range(indexes[-1] + 1)) - set(indexes))
    if missing:
        raise PseudoLabelStoreError(
            f'{chunks}: chunk(s) '
            f'{[layout.CHUNK_NAME % i for i in missing[:10]]} missing; {hint}')
    infos = []
    for index in indexes:
        where = osp.join(chunks, layout.CHUNK_NAME % index)
        info = read_json(osp.join(where, layout.CHUNK_META_FILE), 'chunk')
        if info.get('chunk_index') != index:
            raise PseudoLabelStoreError(
                f'{where}/{layout.CHUNK_META_FILE}: chunk_index '
                f'{info.get("chunk_index")} != {index}')
        infos.append(
            dict(
                dir=where,
                n=int(info['num_images']),
                m=0,
                skipped=info.get('skipped', [])))
    return infos


def finalize_seg_store(store_dir: str, meta: dict) -> dict:
    """Merge the chunks' columns in chunk order and write ``meta.json``.

    Each column is streamed chunk by chunk
    (:func:`~rethink_mmdet.self_training.store.merge.merge_column`), so
    memory does not grow with the store, and the bytes depend on the labels
    only (not on the number of ranks or interruptions). ``chunks/`` is
    removed last. A finished store is returned as it is.

    Args:
        store_dir (str): The store directory holding ``chunks/``.
        meta (dict): The store metadata; ``classes`` required.

    Returns:
        dict: The metadata as written, with ``format``, ``format_version``,
        ``num_images``, ``skipped`` and ``num_skipped`` filled in.
    """
    meta_path = osp.join(store_dir, META_FILE)
    chunks = osp.join(store_dir, layout.CHUNKS_DIR)
    if not osp.isdir(chunks) and osp.isfile(meta_path):
        return read_json(meta_path, 'meta')
    if not isinstance(meta.get('classes'), (list, tuple)):
        raise PseudoLabelStoreError(
            f'{meta_path}: finalize_seg_store needs meta["classes"], the '
            'teacher class names (label i -> classes[i])')
    infos = _scan_seg_chunks(store_dir)
    n = sum(i['n'] for i in infos)
    for name, (dtype, tail, target) in SEG_COLUMNS.items():
        merge_column(
            osp.join(store_dir, name), name, infos, n, tail, dtype, target)
    merge_column(
        osp.join(store_dir, IMAGE_PATHS), IMAGE_PATHS, infos, 0, (), None,
        None)
    skipped = [s for i in infos for s in i['skipped']]
    meta = dict(
        meta,
        format=SEG_FORMAT,
        format_version=SEG_FORMAT_VERSION,
        classes=list(meta['classes']),
        num_images=n,
        skipped=skipped,
        num_skipped=len(skipped))
    dump_json(meta, meta_path, canonical=False)
    shutil.rmtree(chunks)
    return meta
