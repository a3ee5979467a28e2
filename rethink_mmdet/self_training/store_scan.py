"""The load-time pass of :class:`~.dataset.PseudoLabelDataset`: the keep
rule over every box of a pseudo-label store, and what it dropped.

At ImageNet scale (1.28M images, tens of millions of boxes) nothing is
materialised per image: one vectorised NumPy pass over the columns, in
blocks of about :data:`BLOCK_BOXES` boxes (whole images per block, read
with plain file reads so the process does not keep the pages mapped),
yields the number of kept boxes of every image and the counts of each drop
reason (Zoph et al. 2020, Sec. 3: the student sees the teacher's boxes
above its threshold, of the classes it has).
"""
import logging
import os.path as osp
from typing import List, NamedTuple

import numpy as np
from mmengine.logging import print_log

from .keep_rule import BoxVerdict, keep_rule
from .store import (BOXES, IMAGE_HW, LABELS, META_FILE, SCORES,
                    PseudoLabelStore, PseudoLabelStoreError)

__all__ = ['BLOCK_BOXES', 'NUM_LISTED', 'StoreScan', 'scan_store', 'log_scan']

#: Boxes processed per block in the load-time pass (bounds its temporaries).
BLOCK_BOXES = 1 << 18
#: How many offending records an error or warning lists.
NUM_LISTED = 5


def plural(n, word, plural_form=None):
    """``'1 box'``, ``'2 boxes'``."""
    return f'{n} ' + (word if n == 1 else plural_form or word + 's')


class StoreScan(NamedTuple):
    """What :func:`scan_store` found.

    Attributes:
        counts (np.ndarray): (N,) kept boxes of every store image.
        stats (dict): ``num_images``, ``num_boxes``, ``num_kept_boxes``,
            ``num_invalid``, ``num_small``, ``num_below_thr``,
            ``num_unmapped``, ``num_empty_images``, ``max_score`` (of a
            valid box of a mapped class, None without one).
        first_invalid (list[str]): The first invalid boxes, described.
    """
    counts: np.ndarray
    stats: dict
    first_invalid: List[str]


def _check_labels(store, labels, first_box, image_of, num_classes):
    """Refuse labels outside the teacher classes (a corrupt store)."""
    if not len(labels) or (labels.min() >= 0 and labels.max() < num_classes):
        return
    j = int(np.flatnonzero((labels < 0) | (labels >= num_classes))[0])
    i = image_of(j)
    raise PseudoLabelStoreError(
        f'{osp.join(store.store_dir, LABELS)}: box {first_box + j} '
        f'(image {i}, {store.path(i)!r}) has label {int(labels[j])}, '
        f'outside the {num_classes} classes of '
        f'{osp.join(store.store_dir, META_FILE)}')


def scan_store(store: PseudoLabelStore, label_lut: np.ndarray,
               score_thr: float) -> StoreScan:
    """Apply :func:`~.keep_rule.keep_rule` to every box of ``store``.

    Args:
        store (PseudoLabelStore): The opened store.
        label_lut (np.ndarray): Teacher label -> student label, -1 dropped.
        score_thr (float): Keep ``score >= score_thr``.

    Returns:
        StoreScan: The kept boxes per image and the drop statistics.

    Raises:
        PseudoLabelStoreError: A label outside the teacher classes.
    """
    n, m = len(store), int(store.meta['num_boxes'])
    offsets = np.asarray(store.box_offsets)
    counts = np.zeros(n, np.int64)
    totals = dict.fromkeys(BoxVerdict._fields[1:], 0)
    first_invalid: List[str] = []
    max_score = -np.inf
    a = 0
    while a < n:
        b = int(
            np.searchsorted(offsets, offsets[a] + BLOCK_BOXES,
                            side='right')) - 1
        b = min(max(b, a + 1), n)
        local = offsets[a:b + 1] - offsets[a]  # box offsets in the block
        s, e = int(offsets[a]), int(offsets[b])

        def image_of(j):  # store image of the block's box j
            return a + int(np.searchsorted(local, j, side='right')) - 1

        labels = store.read_rows(LABELS, s, e)
        _check_labels(store, labels, s, image_of, len(label_lut))
        scores = store.read_rows(SCORES, s, e)
        boxes = store.read_rows(BOXES, s, e)
        hw = np.repeat(store.read_rows(IMAGE_HW, a, b), np.diff(local), 0)
        verdict = keep_rule(boxes, hw, scores, labels, label_lut, score_thr)
        for key in totals:
            totals[key] += np.count_nonzero(getattr(verdict, key))
        max_score = np.max(
            scores, initial=max_score, where=verdict.keep | verdict.below_thr)
        for j in np.flatnonzero(verdict.invalid)[:NUM_LISTED -
                                                 len(first_invalid)]:
            first_invalid.append(
                f'box {s + j} of image {image_of(j)} '
                f'({store.path(image_of(j))!r}): {boxes[j].tolist()} '
                f'score {float(scores[j]):.4g}')
        kept = np.zeros(e - s + 1, np.int64)
        np.cumsum(verdict.keep, out=kept[1:])
        counts[a:b] = kept[local[1:]] - kept[local[:-1]]
        a = b
    stats = dict(
        num_images=n,
        num_boxes=m,
        num_kept_boxes=int(counts.sum()),
        num_invalid=totals['invalid'],
        num_small=totals['small'],
        num_below_thr=totals['below_thr'],
        num_unmapped=totals['unmapped'],
        num_empty_images=int((counts == 0).sum()),
        max_score=float(max_score) if np.isfinite(max_score) else None)
    return StoreScan(counts, stats, first_invalid)


def log_scan(scan: StoreScan, where: str, score_thr: float) -> None:
    """Log what the load pass kept and dropped (a warning for invalid
    boxes, with the first ones)."""
    s = scan.stats
    if s['num_invalid']:
        print_log(
            f'PseudoLabelDataset {where}: dropped '
            f'{plural(s["num_invalid"], "invalid box", "invalid boxes")} '
            '(NaN/inf coordinate or score, or non-positive width/height);'
            ' first: ' + '; '.join(scan.first_invalid),
            logger='current',
            level=logging.WARNING)
    print_log(
        f'PseudoLabelDataset {where}: score_thr={score_thr}: kept '
        f'{s["num_kept_boxes"]} of {s["num_boxes"]} boxes '
        f'({s["num_below_thr"]} below threshold, {s["num_unmapped"]} of '
        f'unmapped classes, {s["num_small"]} < 1 px or outside the image, '
        f'{s["num_invalid"]} invalid); '
        f'{s["num_images"] - s["num_empty_images"]} of {s["num_images"]} '
        'images have boxes',
        logger='current',
        level=logging.INFO)
