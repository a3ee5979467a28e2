"""The pseudo-label store format: file names, column types, the error.

Zoph et al. 2020 (Sec. 3): a teacher pseudo-labels an unlabeled image set
and the student trains on human + pseudo labels, re-thresholded by score,
so scores are kept. At ImageNet scale (1.28M images) a COCO JSON of pseudo
labels takes minutes and gigabytes per dataloader worker to load; this
store opens in milliseconds because every column is a NumPy ``.npy`` file
opened with ``mmap_mode='r'`` (pages shared by all dataloader workers).

Layout of a store directory ``STORE/`` (``format_version`` 1):

- ``meta.json`` - written last and atomically by ``finalize_store``; its
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
  ``chunk-%06d/`` is always complete. ``finalize_store`` concatenates them
  in chunk-index order (the result does not depend on the number of ranks
  or on interruptions), writes ``meta.json`` and removes ``chunks/``.

The package's modules, one concern each: :mod:`.columns` (column file I/O
and checks), :mod:`.chunks` (writing chunks), :mod:`.merge` (finalizing),
:mod:`.reader` (:class:`~.reader.PseudoLabelStore`) and :mod:`.coco` (COCO
interchange).
"""
import re

import numpy as np

__all__ = [
    'FORMAT', 'FORMAT_VERSION', 'META_FILE', 'CHUNKS_DIR', 'CHUNK_META_FILE',
    'CHUNK_NAME', 'CHUNK_TMP_PREFIX', 'IMAGE_IDS', 'IMAGE_HW', 'IMAGE_PATHS',
    'IMAGE_PATH_OFFSETS', 'BOX_OFFSETS', 'BOXES', 'SCORES', 'LABELS',
    'MASK_RLE', 'MASK_RLE_OFFSETS', 'PseudoLabelStoreError'
]

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

#: Row kinds: ``'image'`` columns have N rows, ``'box'`` columns M rows.
IMAGE_ROWS = 'image'
BOX_ROWS = 'box'
# name -> (dtype, trailing shape, row kind, offset column?); offset columns
# have one row more than their kind.
NPY_COLUMNS = {
    IMAGE_IDS: (np.int64, (), IMAGE_ROWS, False),
    IMAGE_HW: (np.int32, (2, ), IMAGE_ROWS, False),
    IMAGE_PATH_OFFSETS: (np.int64, (), IMAGE_ROWS, True),
    BOX_OFFSETS: (np.int64, (), IMAGE_ROWS, True),
    BOXES: (np.float32, (4, ), BOX_ROWS, False),
    SCORES: (np.float32, (), BOX_ROWS, False),
    LABELS: (np.int32, (), BOX_ROWS, False),
    MASK_RLE_OFFSETS: (np.int64, (), BOX_ROWS, True),
}
MASK_COLUMNS = (MASK_RLE, MASK_RLE_OFFSETS)
# offsets column -> the column its values index
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
