"""Reading a finalized pseudo-label store (see :mod:`.layout`)."""
import os.path as osp

import numpy as np

from .columns import open_columns, read_json, read_rows
from .layout import (BOX_OFFSETS, BOXES, FORMAT, FORMAT_VERSION, IMAGE_HW,
                     IMAGE_IDS, IMAGE_PATH_OFFSETS, IMAGE_PATHS,
                     INCOMPLETE_HINT, LABELS, MASK_RLE, MASK_RLE_OFFSETS,
                     META_FILE, REQUIRED_META_KEYS, SCORES,
                     PseudoLabelStoreError)


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
        meta = read_json(path, 'meta')
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
        cols, n, m = open_columns(self.store_dir, self.has_masks,
                                  self.store_dir)
        if validate:
            meta_path = osp.join(self.store_dir, META_FILE)
            for key, got, col in (('num_images', n, IMAGE_IDS), ('num_boxes',
                                                                 m, BOXES)):
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

    def read_rows(self, name, start, stop):
        """Rows ``start:stop`` of column ``name`` (a file name of
        :mod:`.layout`, e.g. ``SCORES``) read into a new array without
        mapping them into this process (see :func:`.columns.read_rows`):
        for passes over whole columns, whose resident memory then stays
        that of one block."""
        return read_rows(self._col(name), start, stop)

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
