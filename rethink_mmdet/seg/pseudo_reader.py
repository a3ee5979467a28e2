# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Reading a finished segmentation pseudo-label store (Zoph et al. 2020,
Sec. 3.2): per image its path, its label map and its confidence. See
:mod:`.pseudo_store` for the layout."""
import os.path as osp
from typing import Optional

import numpy as np

from rethink_mmdet.self_training.store.columns import (load_bin, load_npy,
                                                       read_json)
from rethink_mmdet.self_training.store.layout import (IMAGE_HW, IMAGE_IDS,
                                                      IMAGE_PATH_OFFSETS,
                                                      IMAGE_PATHS, META_FILE,
                                                      PseudoLabelStoreError)
from .pseudo_store import (IGNORE_FRACTION, MEAN_CONFIDENCE, SEG_COLUMNS,
                           SEG_FORMAT, SOURCE_INDEXES, label_relpath)

__all__ = ['PseudoSegStore']

#: How to make a store.
MAKE_HINT = ('make it with tools/pseudo_label.py SEG_TEACHER_CONFIG CKPT '
             '--images SOURCE --out STORE (or let a running one finish)')


class PseudoSegStore:
    """A finished segmentation pseudo-label store, memory-mapped.

    Args:
        store_dir (str): The store directory (``meta.json`` inside).
        img_root (str, optional): Root of the image paths. Defaults to None:
            the root of the source recorded in the meta (``source.root``).

    Example::

        store = PseudoSegStore('work_dirs/pseudo_seg')
        for i in range(len(store)):
            img, label = store.image_path(i), store.label_path(i)
            mean_conf, ignored = store.confidence(i)
    """

    def __init__(self, store_dir: str, img_root: Optional[str] = None):
        self.store_dir = store_dir
        meta_path = osp.join(store_dir, META_FILE)
        if not osp.isfile(meta_path):
            raise PseudoLabelStoreError(
                f'{store_dir} is not a finished segmentation pseudo-label '
                f'store (no {META_FILE}): {MAKE_HINT}.')
        self.meta = read_json(meta_path, 'meta')
        if self.meta.get('format') != SEG_FORMAT:
            raise PseudoLabelStoreError(
                f'{meta_path}: format {self.meta.get("format")!r}, not a '
                f'segmentation pseudo-label store ({SEG_FORMAT!r}); a '
                'detection store is read by PseudoLabelStore / '
                f'PseudoLabelDataset. For segmentation, {MAKE_HINT} with an '
                'mmseg teacher.')
        self.img_root = (
            img_root if img_root is not None else
            (self.meta.get('source') or {}).get('root', ''))
        self.columns = {
            name: load_npy(osp.join(store_dir, name))
            for name in SEG_COLUMNS
        }
        self.columns[IMAGE_PATHS] = load_bin(osp.join(store_dir, IMAGE_PATHS))
        n = int(self.meta['num_images'])
        for name, col in self.columns.items():
            rows = n + int(name == IMAGE_PATH_OFFSETS)
            if name != IMAGE_PATHS and len(col) != rows:
                raise PseudoLabelStoreError(
                    f'{osp.join(store_dir, name)}: {len(col)} rows, meta '
                    f'num_images {n} (+1 for offsets): the store is '
                    f'truncated; {MAKE_HINT}.')

    def __len__(self) -> int:
        return int(self.meta['num_images'])

    @property
    def classes(self) -> tuple:
        return tuple(self.meta['classes'])

    @property
    def ignore_index(self) -> int:
        return int(self.meta['ignore_index'])

    def relative_path(self, i: int) -> str:
        """Image ``i``'s path as listed (relative to the source root)."""
        offs = self.columns[IMAGE_PATH_OFFSETS]
        a, b = int(offs[i]), int(offs[i + 1])
        return self.columns[IMAGE_PATHS][a:b].tobytes().decode('utf-8')

    def image_path(self, i: int) -> str:
        """Image ``i``'s path, joined to :attr:`img_root`."""
        return osp.join(self.img_root, self.relative_path(i))

    def label_path(self, i: int) -> str:
        """Image ``i``'s label map (PNG, mode ``'L'``)."""
        return osp.join(self.store_dir,
                        label_relpath(int(self.columns[SOURCE_INDEXES][i])))

    def image_id(self, i: int) -> int:
        return int(self.columns[IMAGE_IDS][i])

    def image_hw(self, i: int) -> tuple:
        h, w = self.columns[IMAGE_HW][i]
        return int(h), int(w)

    def confidence(self, i: int) -> tuple:
        """``(mean_confidence, ignore_fraction)`` of image ``i``: the mean
        over its pixels of the highest averaged class probability, and the
        fraction of its pixels set to the ignore index."""
        return (float(self.columns[MEAN_CONFIDENCE][i]),
                float(self.columns[IGNORE_FRACTION][i]))

    @property
    def mean_confidence(self) -> np.ndarray:
        """float32 (N,) per-image mean confidence (memory-mapped)."""
        return self.columns[MEAN_CONFIDENCE]

    @property
    def ignore_fraction(self) -> np.ndarray:
        """float32 (N,) per-image fraction of ignored pixels."""
        return self.columns[IGNORE_FRACTION]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.store_dir!r}, '
                f'images={len(self)}, classes={len(self.classes)}, '
                f'prob_thr={self.meta.get("prob_thr")})')
