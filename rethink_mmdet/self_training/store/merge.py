"""Finalizing a pseudo-label store: merge its chunks into the columns and
write ``meta.json`` (see :mod:`.layout`).

The merge holds no memory map of a chunk or of the output beyond one
chunk's column at a time: chunks are validated and unmapped one after
another, and each column is streamed with plain file reads
(:func:`.columns.read_rows`) and writes, so that the resident memory of
finalizing does not grow with the store (mapped pages would count as
resident until unmapped: 10M boxes are 160 MB of ``boxes.npy``)."""
import os
import os.path as osp
import shutil

import numpy as np

from rethink_mmdet.utils import atomic_output, dump_json
from .chunks import completed_chunks
from .columns import load_bin, load_npy, open_columns, read_json, read_rows
from .layout import (BOX_ROWS, CHUNK_META_FILE, CHUNK_NAME, CHUNK_PATTERN,
                     CHUNK_TMP_PATTERN, CHUNKS_DIR, FORMAT, FORMAT_VERSION,
                     IMAGE_IDS, IMAGE_PATHS, INCOMPLETE_HINT, LABELS,
                     MASK_COLUMNS, MASK_RLE, MASK_RLE_OFFSETS, META_FILE,
                     NPY_COLUMNS, OFFSET_TARGETS, PseudoLabelStoreError)
from .reader import PseudoLabelStore

__all__ = ['ROWS_PER_READ', 'finalize_store', 'merge_column']

#: Rows of a column read and written at a time while merging.
ROWS_PER_READ = 1 << 18


def _scan_chunks(store_dir, num_classes):
    """Open and validate every chunk; returns their infos in index order."""
    indexes = sorted(completed_chunks(store_dir))
    chunks = osp.join(store_dir, CHUNKS_DIR)
    if not indexes:
        raise PseudoLabelStoreError(
            f'{chunks}: no completed chunk to finalize; {INCOMPLETE_HINT}')
    # interrupted writes (temporary or chunk.json-less directories) of a
    # chunk that was never completed afterwards
    for name in sorted(os.listdir(chunks)):
        match = CHUNK_TMP_PATTERN.match(name) or CHUNK_PATTERN.match(name)
        if match and int(match.group(1)) not in indexes:
            raise PseudoLabelStoreError(
                f'{osp.join(chunks, name)}: partially written chunk '
                f'{CHUNK_NAME % int(match.group(1))} (writer interrupted); '
                f'{INCOMPLETE_HINT}')
    missing = sorted(set(range(indexes[-1] + 1)) - set(indexes))
    if missing:
        raise PseudoLabelStoreError(
            f'{chunks}: chunk(s) {[CHUNK_NAME % i for i in missing[:10]]} '
            f'missing (have {len(indexes)} of {indexes[-1] + 1}); '
            f'{INCOMPLETE_HINT}')
    infos, next_first = [], None
    for index in indexes:
        where = osp.join(chunks, CHUNK_NAME % index)
        info = read_json(osp.join(where, CHUNK_META_FILE), 'chunk')
        if info.get('chunk_index') != index:
            raise PseudoLabelStoreError(
                f'{where}/{CHUNK_META_FILE}: chunk_index '
                f'{info.get("chunk_index")} != {index}')
        has_masks = osp.isfile(osp.join(where, MASK_RLE_OFFSETS))
        cols, n, m = open_columns(where, has_masks, where)
        if n != info.get('num_images'):
            raise PseudoLabelStoreError(
                f'{where}/{CHUNK_META_FILE}: num_images '
                f'{info.get("num_images")} != {n} rows in {IMAGE_IDS}')
        first = info.get('first_image_index')
        if next_first is not None and (first is None or first < next_first):
            raise PseudoLabelStoreError(
                f'{where}/{CHUNK_META_FILE}: first_image_index {first} '
                f'overlaps the previous chunk (which ends at {next_first})')
        next_first = (first or 0) + n
        if m and num_classes is not None:
            top = int(cols[LABELS].max())
            if top >= num_classes:
                rec = int(np.argmax(np.asarray(cols[LABELS]) >= num_classes))
                raise PseudoLabelStoreError(
                    f'{where}/{LABELS}: box {rec} has label {top} but meta '
                    f'has {num_classes} classes')
        infos.append(
            dict(
                dir=where,
                n=n,
                m=m,
                has_masks=has_masks,
                skipped=info.get('skipped', [])))
        del cols  # unmap: the merge reads the files again, block by block
    return infos


def _chunk_column(info, name):
    """The chunk's column ``name`` (memory-mapped, nothing read yet), or
    None if the chunk has none (mask columns of a mask-less chunk)."""
    path = osp.join(info['dir'], name)
    if not osp.isfile(path):
        return None
    return load_bin(path) if name.endswith('.bin') else load_npy(path)


def merge_column(path, name, infos, total_rows, tail, dtype, offsets_of):
    """Stream one column of every chunk into ``path`` chunk by chunk
    (atomic: the final name appears only when the column is complete).

    Args:
        path (str): The output column file.
        name (str): The column's file name in each chunk directory
            (``.bin``: bytes concatenated; else a ``.npy`` column).
        infos (list[dict]): The chunks in order: ``dir`` (the chunk
            directory) and ``m`` (its rows of the target of a missing
            offsets column; only read then).
        total_rows (int): Rows of the merged column (without the extra
            leading 0 of an offsets column).
        tail (tuple): Trailing shape of a row.
        dtype: The column's dtype.
        offsets_of (str, optional): For an offsets column, the column it
            indexes (each chunk's offsets are shifted by the rows before
            it); None otherwise.
    """
    with atomic_output(path) as tmp, open(tmp, 'wb') as f:
        if name.endswith('.bin'):
            for info in infos:
                src = osp.join(info['dir'], name)
                if osp.isfile(src):
                    with open(src, 'rb') as chunk_file:
                        shutil.copyfileobj(chunk_file, f, 1 << 20)
            return
        is_offsets = offsets_of is not None
        shape = (total_rows + int(is_offsets), ) + tail
        np.lib.format.write_array_header_1_0(
            f,
            dict(
                descr=np.lib.format.dtype_to_descr(np.dtype(dtype)),
                fortran_order=False,
                shape=shape))
        if is_offsets:
            f.write(np.zeros(1, dtype).tobytes())
        base = 0
        for info in infos:
            col = _chunk_column(info, name)
            if col is None:
                if is_offsets:  # mask offsets of a mask-less chunk's boxes
                    f.write(np.full(info['m'], base, dtype).tobytes())
                continue
            first = int(is_offsets)  # offsets: row 0 (= 0) is dropped
            for start in range(first, len(col), ROWS_PER_READ):
                rows = read_rows(col, start,
                                 min(start + ROWS_PER_READ, len(col)))
                if is_offsets:
                    rows = rows + base
                f.write(np.ascontiguousarray(rows, dtype).tobytes())
            if is_offsets:
                base += int(read_rows(col, len(col) - 1, len(col))[0])
            del col


def finalize_store(store_dir, meta):
    """Merge the chunks of a store into its columns and write ``meta.json``.

    Chunks are concatenated in chunk-index order one at a time into
    preallocated memory-mapped columns (memory use does not grow with the
    store), so the bytes of every column depend only on the labels, not on
    the number of writers or the order chunks were written. ``meta.json`` is
    written last (atomically), then ``chunks/`` is removed.

    Args:
        store_dir (str): The store directory holding ``chunks/``.
        meta (dict): The store metadata: ``classes`` (required) and the
            other keys of the format (``score_floor``, ``teacher``,
            ``source``, ``chunk_size``, ``created_by``; extra keys allowed).
            ``skipped`` entries given here are appended after the chunks'.

    Returns:
        dict: The metadata as written, with ``format``, ``format_version``,
        ``num_images``, ``num_boxes``, ``has_masks``, ``skipped`` and
        ``num_skipped`` filled in.
    """
    meta_path = osp.join(store_dir, META_FILE)
    if not osp.isdir(osp.join(store_dir,
                              CHUNKS_DIR)) and osp.isfile(meta_path):
        return PseudoLabelStore(store_dir).meta  # finalized already
    meta = dict(meta)
    if not isinstance(meta.get('classes'), (list, tuple)):
        raise PseudoLabelStoreError(
            f'{meta_path}: finalize_store needs meta["classes"], the '
            'teacher class names (label i -> classes[i])')
    infos = _scan_chunks(store_dir, len(meta['classes']))
    has_masks = any(i['has_masks'] for i in infos)
    for info in infos:
        if info['m'] and not info['has_masks'] and has_masks:
            raise PseudoLabelStoreError(
                f'{info["dir"]}: boxes without masks while other chunks '
                'have masks; re-label this chunk')
    if osp.isfile(meta_path):
        os.remove(meta_path)  # columns are about to change
    n = sum(i['n'] for i in infos)
    m = sum(i['m'] for i in infos)
    for name, (dtype, tail, kind, is_offsets) in NPY_COLUMNS.items():
        if name in MASK_COLUMNS and not has_masks:
            continue
        merge_column(
            osp.join(store_dir, name), name, infos,
            m if kind == BOX_ROWS else n, tail, dtype,
            OFFSET_TARGETS.get(name) if is_offsets else None)
    for name in (IMAGE_PATHS, MASK_RLE) if has_masks else (IMAGE_PATHS, ):
        merge_column(osp.join(store_dir, name), name, infos, 0, (), None, None)
    skipped = [s for i in infos for s in i['skipped']]
    skipped += list(meta.get('skipped', []))
    meta.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        classes=list(meta['classes']),
        num_images=n,
        num_boxes=m,
        has_masks=has_masks,
        skipped=skipped,
        num_skipped=len(skipped))
    del infos
    dump_json(meta, meta_path, canonical=False)
    shutil.rmtree(osp.join(store_dir, CHUNKS_DIR))
    return meta
