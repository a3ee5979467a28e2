"""Column file I/O of the pseudo-label store: write, map, read in blocks,
cross-check. See :mod:`.layout` for the format."""
import json
import os.path as osp

import numpy as np

from rethink_mmdet.utils import atomic_output
from .layout import (BOX_ROWS, BOXES, IMAGE_IDS, IMAGE_PATHS, MASK_COLUMNS,
                     MASK_RLE, NPY_COLUMNS, OFFSET_TARGETS,
                     PseudoLabelStoreError)


def save_npy(path, array):
    """Write one ``.npy`` column (atomic, fsync-ed)."""
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as f:
            np.save(f, array, allow_pickle=False)


def save_bin(path, data):
    """Write one raw byte column (atomic, fsync-ed)."""
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def offsets(lengths):
    """Start offsets of consecutive records of ``lengths`` (N+1 int64)."""
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(np.asarray(lengths, np.int64), out=out[1:])
    return out


def load_npy(path, name_for_errors=None):
    """Memory-map one ``.npy`` column, raising :class:`PseudoLabelStoreError`
    naming the file on a missing or truncated file."""
    name = name_for_errors or path
    if not osp.isfile(path):
        raise PseudoLabelStoreError(f'{name}: column file missing')
    try:
        return np.load(path, mmap_mode='r', allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise PseudoLabelStoreError(
            f'{name}: unreadable or truncated .npy column ({e}); re-run '
            'finalize_store or re-create the store') from e


def load_bin(path, name_for_errors=None):
    """Memory-map a raw byte column (an empty file gives an empty array)."""
    name = name_for_errors or path
    if not osp.isfile(path):
        raise PseudoLabelStoreError(f'{name}: column file missing')
    if osp.getsize(path) == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode='r')


def read_rows(column, start, stop):
    """Rows ``start:stop`` of a memory-mapped ``.npy`` column, read with
    plain file reads into a new array.

    Unlike slicing the map, this leaves no pages of the file mapped into the
    process (its resident memory does not grow with the store); the page
    cache still serves the bytes. Used by passes over a whole column.

    Args:
        column (np.memmap): A column from :func:`load_npy`.
        start (int): First row.
        stop (int): One past the last row.

    Returns:
        np.ndarray: The rows, of the column's dtype and trailing shape.
    """
    start, stop = int(start), int(stop)
    if not isinstance(column, np.memmap) or column.filename is None:
        return np.array(column[start:stop])
    row = int(np.prod(column.shape[1:], dtype=np.int64))
    count = max(stop - start, 0) * row
    data = np.fromfile(
        column.filename,
        dtype=column.dtype,
        count=count,
        offset=column.offset + start * row * column.dtype.itemsize)
    return data.reshape((-1, ) + column.shape[1:])


def check_offsets(offsets, end, name, target):
    """Offsets start at 0, never decrease and end at the target's length."""
    if len(offsets) == 0:
        raise PseudoLabelStoreError(f'{name}: empty, expected at least [0]')
    if offsets[0] != 0:
        raise PseudoLabelStoreError(
            f'{name}: record 0 starts at {int(offsets[0])}, expected 0')
    bad = np.flatnonzero(np.diff(offsets) < 0)
    if len(bad):
        i = int(bad[0])
        raise PseudoLabelStoreError(
            f'{name}: offsets not monotonic at record {i} '
            f'({int(offsets[i])} -> {int(offsets[i + 1])})')
    if offsets[-1] != end:
        raise PseudoLabelStoreError(
            f'{name}: last offset {int(offsets[-1])} != length {end} of '
            f'{target} (column truncated or mismatched)')


def open_columns(directory, has_masks, where):
    """Open and cross-check every column of a store or chunk directory.

    Returns:
        tuple[dict, int, int]: the columns by file name, N and M.
    """
    cols = {}
    for name, (dtype, tail, _, _) in NPY_COLUMNS.items():
        if name in MASK_COLUMNS and not has_masks:
            continue
        arr = load_npy(osp.join(directory, name), osp.join(where, name))
        if arr.dtype != dtype or arr.shape[1:] != tail:
            raise PseudoLabelStoreError(
                f'{osp.join(where, name)}: dtype {arr.dtype} shape '
                f'{arr.shape}, expected {np.dtype(dtype)} (*, '
                f'{", ".join(map(str, tail))})')
        cols[name] = arr
    cols[IMAGE_PATHS] = load_bin(
        osp.join(directory, IMAGE_PATHS), osp.join(where, IMAGE_PATHS))
    if has_masks:
        cols[MASK_RLE] = load_bin(
            osp.join(directory, MASK_RLE), osp.join(where, MASK_RLE))
    n = len(cols[IMAGE_IDS])
    m = len(cols[BOXES])
    for name, arr in cols.items():
        if name not in NPY_COLUMNS:
            continue
        _, _, kind, is_offsets = NPY_COLUMNS[name]
        rows = (m if kind == BOX_ROWS else n) + int(is_offsets)
        if len(arr) != rows:
            ref = BOXES if kind == BOX_ROWS else IMAGE_IDS
            raise PseudoLabelStoreError(
                f'{osp.join(where, name)}: {len(arr)} records, expected '
                f'{rows} from {ref} (column truncated or mismatched)')
    for name, target in OFFSET_TARGETS.items():
        if name in cols:
            check_offsets(cols[name], len(cols[target]), osp.join(where, name),
                          target)
    return cols, n, m


def read_json(path, what):
    """Load a JSON file; a syntax error names the file."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise PseudoLabelStoreError(
            f'{path}: not valid {what} JSON ({e})') from e
