"""The pseudo-label store: compact, memory-mapped teacher labels.

Zoph et al. 2020 (Sec. 3): a teacher pseudo-labels an unlabeled image set and
the student trains on human + pseudo labels; the student re-thresholds by
score, so scores are kept. At ImageNet scale (1.28M images) a COCO JSON of
pseudo labels takes minutes and gigabytes per dataloader worker to load; this
store opens in well under a second with a few MB resident, because every
column is a NumPy ``.npy`` file opened with ``mmap_mode='r'`` (pages shared by
all dataloader workers).

Layout of a store directory ``STORE/`` (``format_version`` 1):

- ``meta.json`` - written last and atomically by :func:`finalize_store`; its
  presence means the store is complete.
- ``image_ids.npy`` int64 (N,), ``image_hw.npy`` int32 (N, 2),
  ``image_paths.bin`` + ``image_path_offsets.npy`` int64 (N+1,),
  ``box_offsets.npy`` int64 (N+1,), ``boxes.npy`` float32 (M, 4) xyxy,
  ``scores.npy`` float32 (M,), ``labels.npy`` int32 (M,) and, with masks,
  ``mask_rle.bin`` + ``mask_rle_offsets.npy`` int64 (M+1,) (COCO compressed
  RLE ``counts`` strings of size (h, w) of their image).
- ``chunks/chunk-%06d/`` - the labeler's intermediate work, the same columns
  with chunk-local offsets plus ``chunk.json``. A chunk is written into a
  temporary sibling directory and renamed into place, so an existing
  ``chunk-%06d/`` is always complete. :func:`finalize_store` concatenates them
  in chunk-index order (the result does not depend on the number of ranks or
  on interruptions), writes ``meta.json`` and removes ``chunks/``.
"""
import json
import os
import os.path as osp
import re
import shutil
import tempfile

import numpy as np

FORMAT = 'rethink_mmdet.pseudo_labels'
FORMAT_VERSION = 1

META_FILE = 'meta.json'
CHUNKS_DIR = 'chunks'
CHUNK_META_FILE = 'chunk.json'
CHUNK_NAME = 'chunk-%06d'
CHUNK_PATTERN = re.compile(r'^chunk-(\d{6})$')
CHUNK_TMP_PREFIX = '.tmp-'
CHUNK_TMP_PATTERN = re.compile(r'^\.tmp-chunk-(\d{6})-')
INCOMPLETE_HINT = 'store incomplete: run/finish tools/pseudo_label.py'

IMAGE_IDS = 'image_ids.npy'
IMAGE_HW = 'image_hw.npy'
IMAGE_PATHS = 'image_paths.bin'
IMAGE_PATH_OFFSETS = 'image_path_offsets.npy'
BOX_OFFSETS = 'box_offsets.npy'
BOXES = 'boxes.npy'
SCORES = 'scores.npy'
LABELS = 'labels.npy'
MASK_RLE = 'mask_rle.bin'
MASK_RLE_OFFSETS = 'mask_rle_offsets.npy'

# name -> (dtype, trailing shape, 'image' | 'box' rows, offset column?)
# 'image' columns have N rows, 'box' columns M rows; offset columns one more.
NPY_COLUMNS = {
    IMAGE_IDS: (np.int64, (), 'image', False),
    IMAGE_HW: (np.int32, (2, ), 'image', False),
    IMAGE_PATH_OFFSETS: (np.int64, (), 'image', True),
    BOX_OFFSETS: (np.int64, (), 'image', True),
    BOXES: (np.float32, (4, ), 'box', False),
    SCORES: (np.float32, (), 'box', False),
    LABELS: (np.int32, (), 'box', False),
    MASK_RLE_OFFSETS: (np.int64, (), 'box', True),
}
MASK_COLUMNS = (MASK_RLE, MASK_RLE_OFFSETS)
# offsets column -> (the column its values index, its row kind)
OFFSET_TARGETS = {
    IMAGE_PATH_OFFSETS: IMAGE_PATHS,
    BOX_OFFSETS: BOXES,
    MASK_RLE_OFFSETS: MASK_RLE,
}
REQUIRED_META_KEYS = ('format', 'format_version', 'classes', 'num_images',
                      'num_boxes', 'has_masks')


class PseudoLabelStoreError(ValueError):
    """A pseudo-label store, chunk or input file is missing, incomplete or
    malformed. The message names the file and, where there is one, the
    record."""


# --------------------------------------------------------------------------
# low-level column I/O
# --------------------------------------------------------------------------
def _fsync_write(path, write):
    with open(path, 'wb') as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _save_npy(path, array):
    _fsync_write(path, lambda f: np.save(f, array, allow_pickle=False))


def _save_bin(path, data):
    _fsync_write(path, lambda f: f.write(data))


def _load_npy(path, name_for_errors=None):
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


def _load_bin(path, name_for_errors=None):
    """Memory-map a raw byte column (an empty file gives an empty array)."""
    name = name_for_errors or path
    if not osp.isfile(path):
        raise PseudoLabelStoreError(f'{name}: column file missing')
    if osp.getsize(path) == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode='r')


def _check_offsets(offsets, end, name, target):
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


def _open_columns(directory, has_masks, where):
    """Open and cross-check every column of a store or chunk directory.

    Returns:
        tuple[dict, int, int]: the columns by file name, N and M.
    """
    cols = {}
    for name, (dtype, tail, _, _) in NPY_COLUMNS.items():
        if name in MASK_COLUMNS and not has_masks:
            continue
        arr = _load_npy(osp.join(directory, name), osp.join(where, name))
        if arr.dtype != dtype or arr.shape[1:] != tail:
            raise PseudoLabelStoreError(
                f'{osp.join(where, name)}: dtype {arr.dtype} shape '
                f'{arr.shape}, expected {np.dtype(dtype)} (*, '
                f'{", ".join(map(str, tail))})')
        cols[name] = arr
    cols[IMAGE_PATHS] = _load_bin(
        osp.join(directory, IMAGE_PATHS), osp.join(where, IMAGE_PATHS))
    if has_masks:
        cols[MASK_RLE] = _load_bin(
            osp.join(directory, MASK_RLE), osp.join(where, MASK_RLE))
    n = len(cols[IMAGE_IDS])
    m = len(cols[BOXES])
    for name, arr in cols.items():
        if name not in NPY_COLUMNS:
            continue
        _, _, kind, is_offsets = NPY_COLUMNS[name]
        rows = (n if kind == 'image' else m) + int(is_offsets)
        if len(arr) != rows:
            ref = IMAGE_IDS if kind == 'image' else BOXES
            raise PseudoLabelStoreError(
                f'{osp.join(where, name)}: {len(arr)} records, expected '
                f'{rows} from {ref} (column truncated or mismatched)')
    for name, target in OFFSET_TARGETS.items():
        if name in cols:
            _check_offsets(cols[name], len(cols[target]),
                           osp.join(where, name), target)
    return cols, n, m


def _read_json(path, what):
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise PseudoLabelStoreError(
            f'{path}: not valid {what} JSON ({e})') from e


def _write_json_atomic(path, obj):
    fd, tmp = tempfile.mkstemp(
        dir=osp.dirname(path) or '.', prefix=CHUNK_TMP_PREFIX, suffix='.json')
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# writing chunks
# --------------------------------------------------------------------------
def _records_to_columns(records, where):
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
            rles.extend(m.decode('ascii') if isinstance(m, bytes) else m
                        for m in masks)
        box_counts[i] = k
        boxes.append(b)
        scores.append(s)
        labels.append(lab.astype(np.int32))
    cols = {
        IMAGE_IDS: image_ids,
        IMAGE_HW: image_hw,
        IMAGE_PATHS: b''.join(path_bytes),
        IMAGE_PATH_OFFSETS: _offsets([len(p) for p in path_bytes]),
        BOX_OFFSETS: _offsets(box_counts),
        BOXES: np.concatenate(boxes) if n else np.zeros((0, 4), np.float32),
        SCORES: np.concatenate(scores) if n else np.zeros(0, np.float32),
        LABELS: np.concatenate(labels) if n else np.zeros(0, np.int32),
    }
    if has_masks:
        encoded = [m.encode('utf-8') for m in rles]
        cols[MASK_RLE] = b''.join(encoded)
        cols[MASK_RLE_OFFSETS] = _offsets([len(m) for m in encoded])
    return cols


def _offsets(lengths):
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(np.asarray(lengths, np.int64), out=out[1:])
    return out


def _write_chunk_columns(store_dir, chunk_index, first_image_index, columns,
                         skipped=()):
    """Write already-built column arrays as chunk ``chunk_index`` (atomic).

    ``columns`` maps the column file names to arrays (``.npy`` columns) or
    bytes (``.bin`` columns), mask columns optional. Used by
    :func:`write_chunk` and by generators of large synthetic stores.
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
                _save_bin(osp.join(tmp, name), bytes(value))
            else:
                dtype = NPY_COLUMNS[name][0]
                _save_npy(osp.join(tmp, name),
                          np.ascontiguousarray(value, dtype=dtype))
        _write_json_atomic(osp.join(tmp, CHUNK_META_FILE), {
            'chunk_index': int(chunk_index),
            'first_image_index': int(first_image_index),
            'num_images': int(len(columns[IMAGE_IDS])),
            'num_boxes': int(len(columns[BOXES])),
            'has_masks': MASK_RLE in columns,
            'skipped': [dict(s) for s in skipped],
        })
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
    columns = _records_to_columns(list(records), where)
    _write_chunk_columns(store_dir, chunk_index, first_image_index, columns,
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


# --------------------------------------------------------------------------
# finalizing
# --------------------------------------------------------------------------
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
        info = _read_json(osp.join(where, CHUNK_META_FILE), 'chunk')
        if info.get('chunk_index') != index:
            raise PseudoLabelStoreError(
                f'{where}/{CHUNK_META_FILE}: chunk_index '
                f'{info.get("chunk_index")} != {index}')
        has_masks = osp.isfile(osp.join(where, MASK_RLE_OFFSETS))
        cols, n, m = _open_columns(where, has_masks, where)
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
            dict(dir=where, cols=cols, n=n, m=m, has_masks=has_masks,
                 skipped=info.get('skipped', [])))
    return infos


def _merge_column(path, name, infos, total_rows, tail, dtype, offsets_of):
    """Stream one column of every chunk into ``path`` chunk by chunk."""
    if name.endswith('.bin'):
        with open(path, 'wb') as f:
            for info in infos:
                if name in info['cols']:
                    f.write(memoryview(np.ascontiguousarray(
                        info['cols'][name])))
            f.flush()
            os.fsync(f.fileno())
        return
    shape = (total_rows + int(offsets_of is not None), ) + tail
    if shape[0] == 0:
        _save_npy(path, np.zeros(shape, dtype))
        return
    out = np.lib.format.open_memmap(path, mode='w+', dtype=dtype, shape=shape)
    row, base = 0, 0
    if offsets_of is not None:
        out[0] = 0
    for info in infos:
        if name in info['cols']:
            src = info['cols'][name]
        elif offsets_of is not None:  # a mask-less chunk of empty images
            src = np.zeros(info['m'] + 1, dtype)
        else:
            continue
        if offsets_of is not None:
            k = len(src) - 1
            out[row + 1:row + 1 + k] = src[1:] + base
            base += int(src[-1])
        else:
            k = len(src)
            out[row:row + k] = src
        row += k
    out.flush()
    del out
    with open(path, 'rb+') as f:
        os.fsync(f.fileno())


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
    if not osp.isdir(osp.join(store_dir, CHUNKS_DIR)) and osp.isfile(
            meta_path):
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
        _merge_column(
            osp.join(store_dir, name), name, infos,
            n if kind == 'image' else m, tail, dtype,
            OFFSET_TARGETS.get(name) if is_offsets else None)
    for name in (IMAGE_PATHS, MASK_RLE) if has_masks else (IMAGE_PATHS, ):
        _merge_column(osp.join(store_dir, name), name, infos, 0, (), None,
                      None)
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
    del infos  # close the chunk memory maps before removing them
    _write_json_atomic(meta_path, meta)
    shutil.rmtree(osp.join(store_dir, CHUNKS_DIR))
    return meta


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------
class PseudoLabelStore:
    """Read-only access to a finalized pseudo-label store.

    Opening maps the columns (``np.load(..., mmap_mode='r')``) and checks
    them: nothing is read into memory beyond the offsets. A pickled store
    carries only its path and re-opens lazily, so dataloader workers share
    the page cache instead of holding copies.

    Args:
        store_dir (str): The store directory (with ``meta.json``).

    Attributes:
        meta (dict): The content of ``meta.json``.
        classes (tuple[str]): Teacher class names, label i -> classes[i].
        has_masks (bool): Whether the store holds instance masks.
        image_ids, image_hw, box_offsets, boxes, scores, labels
            (np.memmap): The columns, for vectorised access.
    """

    def __init__(self, store_dir):
        self.store_dir = str(store_dir)
        self._cols = None
        self._meta = self._read_meta()
        self._open(validate=True)

    def _read_meta(self):
        path = osp.join(self.store_dir, META_FILE)
        if not osp.isfile(path):
            raise PseudoLabelStoreError(
                f'{path}: missing - {INCOMPLETE_HINT} (meta.json is written '
                'last by finalize_store)')
        meta = _read_json(path, 'meta')
        if not isinstance(meta, dict) or meta.get('format') != FORMAT:
            got = meta.get('format') if isinstance(meta, dict) else meta
            raise PseudoLabelStoreError(
                f'{path}: format {got!r} is not {FORMAT!r}; not a '
                'rethink_mmdet pseudo-label store')
        if meta.get('format_version') != FORMAT_VERSION:
            raise PseudoLabelStoreError(
                f'{path}: format_version {meta.get("format_version")!r} is '
                f'not supported (this rethink_mmdet reads {FORMAT_VERSION}); '
                're-create the store with tools/pseudo_label.py or use the '
                'matching rethink_mmdet version')
        missing = [k for k in REQUIRED_META_KEYS if k not in meta]
        if missing:
            raise PseudoLabelStoreError(f'{path}: keys {missing} missing')
        return meta

    def _open(self, validate=False):
        cols, n, m = _open_columns(self.store_dir, self.has_masks,
                                   self.store_dir)
        if validate:
            meta_path = osp.join(self.store_dir, META_FILE)
            for key, got, col in (('num_images', n, IMAGE_IDS),
                                  ('num_boxes', m, BOXES)):
                if self._meta[key] != got:
                    raise PseudoLabelStoreError(
                        f'{osp.join(self.store_dir, col)}: {got} records but '
                        f'{meta_path} says {key}={self._meta[key]} (column '
                        'truncated or replaced)')
        self._cols = cols

    def _col(self, name):
        if self._cols is None:
            self._open()
        return self._cols[name]

    def __getstate__(self):
        return {'store_dir': self.store_dir}

    def __setstate__(self, state):
        self.store_dir = state['store_dir']
        self._cols = None
        self._meta = None

    @property
    def meta(self):
        if self._meta is None:
            self._meta = self._read_meta()
        return self._meta

    @property
    def classes(self):
        return tuple(self.meta['classes'])

    @property
    def has_masks(self):
        return bool(self.meta['has_masks'])

    image_ids = property(lambda self: self._col(IMAGE_IDS))
    image_hw = property(lambda self: self._col(IMAGE_HW))
    box_offsets = property(lambda self: self._col(BOX_OFFSETS))
    boxes = property(lambda self: self._col(BOXES))
    scores = property(lambda self: self._col(SCORES))
    labels = property(lambda self: self._col(LABELS))

    def __len__(self):
        return int(self.meta['num_images'])

    def _index(self, i):
        n = len(self)
        i = int(i)
        if not -n <= i < n:
            raise IndexError(f'image {i} out of range for {n} images in '
                             f'{self.store_dir}')
        return i + n if i < 0 else i

    def path(self, i):
        """The path of image ``i`` as stored (relative to
        ``meta['source']['root']`` or absolute)."""
        i = self._index(i)
        off = self._col(IMAGE_PATH_OFFSETS)
        raw = self._col(IMAGE_PATHS)[int(off[i]):int(off[i + 1])]
        return bytes(raw).decode('utf-8')

    def image(self, i):
        """The record of image ``i``: the keys of a :func:`write_chunk`
        record, arrays copied out of the maps."""
        i = self._index(i)
        a, b = (int(x) for x in self._col(BOX_OFFSETS)[i:i + 2])
        h, w = (int(x) for x in self._col(IMAGE_HW)[i])
        masks = None
        if self.has_masks:
            moff = self._col(MASK_RLE_OFFSETS)[a:b + 1]
            raw = bytes(self._col(MASK_RLE)[int(moff[0]):int(moff[-1])])
            rel = moff - moff[0]
            masks = [
                raw[rel[j]:rel[j + 1]].decode('utf-8') for j in range(b - a)
            ]
        return {
            'path': self.path(i),
            'image_id': int(self._col(IMAGE_IDS)[i]),
            'height': h,
            'width': w,
            'boxes': np.array(self._col(BOXES)[a:b]),
            'scores': np.array(self._col(SCORES)[a:b]),
            'labels': np.array(self._col(LABELS)[a:b]),
            'masks_rle': masks,
        }

    def __repr__(self):
        return (f'{type(self).__name__}({self.store_dir!r}, images={len(self)}'
                f', boxes={self.meta["num_boxes"]}, masks={self.has_masks})')


# --------------------------------------------------------------------------
# COCO interchange
# --------------------------------------------------------------------------
DEFAULT_IMPORT_CHUNK_SIZE = 10000
IMPORT_CREATED_BY = 'rethink_mmdet.self_training.import_coco_results'


def _category_ids(meta):
    """COCO category id of every label (``meta['category_ids']`` if the
    store was imported from COCO, else label + 1)."""
    ids = meta.get('category_ids')
    return list(ids) if ids else list(range(1, len(meta['classes']) + 1))


def export_coco(store_dir, out_file, score_thr=0.0):
    """Write a store as one COCO JSON with ``images``, ``categories`` and
    ``annotations`` carrying their ``score`` (kept, unlike mmdet's
    ``CocoDataset``).

    Args:
        store_dir (str): A finalized store.
        out_file (str): The JSON file to write.
        score_thr (float): Boxes scoring below it are left out. Defaults to
            0.0.

    Returns:
        dict: The COCO dict written.
    """
    store = PseudoLabelStore(store_dir)
    cat_ids = _category_ids(store.meta)
    images, annotations = [], []
    for i in range(len(store)):
        rec = store.image(i)
        images.append({
            'id': rec['image_id'],
            'file_name': rec['path'],
            'height': rec['height'],
            'width': rec['width'],
        })
        for j, (box, score, label) in enumerate(
                zip(rec['boxes'].tolist(), rec['scores'].tolist(),
                    rec['labels'].tolist())):
            if score < score_thr:
                continue
            x1, y1, x2, y2 = box
            ann = {
                'id': len(annotations) + 1,
                'image_id': rec['image_id'],
                'category_id': cat_ids[label],
                'bbox': [x1, y1, x2 - x1, y2 - y1],
                'area': (x2 - x1) * (y2 - y1),
                'iscrowd': 0,
                'score': score,
            }
            if rec['masks_rle'] is not None:
                ann['segmentation'] = {
                    'size': [rec['height'], rec['width']],
                    'counts': rec['masks_rle'][j]
                }
            annotations.append(ann)
    coco = {
        'info': {'description': f'{FORMAT} export of {store_dir}',
                 'score_thr': score_thr},
        'images': images,
        'categories': [{'id': c, 'name': n}
                       for c, n in zip(cat_ids, store.classes)],
        'annotations': annotations,
    }
    tmp = out_file + CHUNK_TMP_PREFIX + str(os.getpid())
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(coco, f)
    os.replace(tmp, out_file)
    return coco


def _rle_counts(seg, h, w, where):
    """COCO compressed-RLE ``counts`` string of a result's segmentation."""
    if isinstance(seg, dict) and isinstance(seg.get('counts'), (str, bytes)):
        if list(seg.get('size', (h, w))) != [h, w]:
            raise PseudoLabelStoreError(
                f'{where}: RLE size {seg.get("size")} != image (h, w) '
                f'{[h, w]}')
        counts = seg['counts']
        return counts.decode('ascii') if isinstance(counts, bytes) else counts
    from pycocotools import mask as mask_utils
    rles = mask_utils.frPyObjects(seg, h, w)
    rle = mask_utils.merge(rles) if isinstance(rles, list) else rles
    return rle['counts'].decode('ascii')


def import_coco_results(results_file, image_info_file, store_dir,
                        classes=None, score_floor=0.0, meta=None):
    """Build a store from COCO detection results (e.g. mmdet's
    ``CocoMetric`` ``outfile_prefix`` ``.bbox.json`` / ``.segm.json``, or an
    :func:`export_coco` file) and the image-only COCO JSON of the images.

    Every image of ``image_info_file`` becomes a store image (ascending id;
    images without results have 0 boxes); results keep their file order.

    Args:
        results_file (str): A JSON list of ``{image_id, category_id, bbox
            [x, y, w, h], score, segmentation?}``, or a COCO dict whose
            ``annotations`` are such results.
        image_info_file (str): COCO JSON with ``images`` (``id``,
            ``file_name``, ``height``, ``width``) and, unless ``classes`` is
            given, ``categories``.
        store_dir (str): The store to create.
        classes (Sequence[str], optional): Class names. With ``categories``
            in ``image_info_file`` they are matched by name; without, label
            i is category id i + 1. Defaults to None (the categories' names
            in id order).
        score_floor (float): Results scoring below it are dropped and the
            value is recorded in the meta. Defaults to 0.0.
        meta (dict, optional): Extra or overriding meta keys (``teacher``,
            ``source``...). Defaults to None.

    Returns:
        dict: The meta of the new store.
    """
    info = _read_json(image_info_file, 'image info')
    if not isinstance(info, dict) or 'images' not in info:
        raise PseudoLabelStoreError(
            f'{image_info_file}: no "images" list (expected an image-only '
            'COCO JSON)')
    cats = sorted(info.get('categories') or [], key=lambda c: c['id'])
    if cats:
        names = [c['name'] for c in cats]
        if classes is None:
            classes = names
        classes = list(classes)
        missing = [n for n in names if n not in classes]
        if missing:
            raise PseudoLabelStoreError(
                f'{image_info_file}: categories {missing[:5]} are not in '
                f'classes {classes[:5]}...')
        cat_ids = [None] * len(classes)
        for c in cats:
            cat_ids[classes.index(c['name'])] = c['id']
        unused = max(c['id'] for c in cats)
        for i, c in enumerate(cat_ids):  # classes with no category
            if c is None:
                unused += 1
                cat_ids[i] = unused
    elif classes is None:
        raise PseudoLabelStoreError(
            f'{image_info_file}: no "categories"; pass classes=')
    else:
        classes = list(classes)
        cat_ids = list(range(1, len(classes) + 1))
    label_of = {c: i for i, c in enumerate(cat_ids)}

    results = _read_json(results_file, 'results')
    if isinstance(results, dict):
        results = results.get('annotations', [])
    images = sorted(info['images'], key=lambda im: im['id'])
    per_image = {im['id']: [] for im in images}
    has_masks = False
    for k, r in enumerate(results):
        where = f'{results_file}: result {k}'
        if r.get('image_id') not in per_image:
            raise PseudoLabelStoreError(
                f'{where} has image_id {r.get("image_id")!r} not in '
                f'{image_info_file}')
        if r.get('category_id') not in label_of:
            raise PseudoLabelStoreError(
                f'{where} has unknown category_id {r.get("category_id")!r}')
        if 'bbox' not in r or len(r['bbox']) != 4:
            raise PseudoLabelStoreError(f'{where} has no [x, y, w, h] bbox')
        has_masks = has_masks or 'segmentation' in r
        if r.get('score', 1.0) >= score_floor:
            per_image[r['image_id']].append(r)

    chunk_size = int((meta or {}).get('chunk_size',
                                      DEFAULT_IMPORT_CHUNK_SIZE))
    for c, start in enumerate(range(0, len(images), chunk_size)):
        records = []
        for im in images[start:start + chunk_size]:
            rs = per_image[im['id']]
            h, w = int(im['height']), int(im['width'])
            xywh = np.array([r['bbox'] for r in rs],
                            np.float64).reshape(-1, 4)
            boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]],
                                   axis=1)
            masks = None
            if has_masks:
                masks = []
                for r in rs:
                    if 'segmentation' not in r:
                        raise PseudoLabelStoreError(
                            f'{results_file}: a result of image {im["id"]} '
                            'has no segmentation while others have')
                    masks.append(_rle_counts(
                        r['segmentation'], h, w,
                        f'{results_file}: image {im["id"]}'))
            records.append({
                'path': im['file_name'],
                'image_id': int(im['id']),
                'height': h,
                'width': w,
                'boxes': boxes.astype(np.float32),
                'scores': np.array([r.get('score', 1.0) for r in rs],
                                   np.float32),
                'labels': np.array([label_of[r['category_id']] for r in rs],
                                   np.int64),
                'masks_rle': masks,
            })
        write_chunk(store_dir, c, start, records)
    if not images:
        write_chunk(store_dir, 0, 0, [])
    full_meta = {
        'classes': classes,
        'category_ids': cat_ids,
        'score_floor': float(score_floor),
        'teacher': {'config': '', 'config_text': '', 'checkpoint': '',
                    'checkpoint_sha256': ''},
        'source': {'kind': 'coco', 'path': osp.abspath(image_info_file),
                   'results': osp.abspath(results_file)},
        'chunk_size': chunk_size,
        'created_by': IMPORT_CREATED_BY,
    }
    full_meta.update(meta or {})
    return finalize_store(store_dir, full_meta)
