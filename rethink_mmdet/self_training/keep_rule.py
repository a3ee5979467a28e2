"""The one rule that decides which pseudo boxes a student sees (Zoph et
al. 2020, Sec. 3: the teacher's boxes re-thresholded by score, mapped to the
student's classes), and why each other box was dropped.

:class:`~.dataset.PseudoLabelDataset` applies it vectorised over the whole
store at load (:mod:`.store_scan`) and per image in ``get_data_info``, so
both always agree.
"""
from typing import NamedTuple

import numpy as np

__all__ = ['BoxVerdict', 'keep_rule']


class BoxVerdict(NamedTuple):
    """What :func:`keep_rule` decided for each box (bool arrays, disjoint
    except ``keep``, which is the boxes none of the others caught)."""
    keep: np.ndarray
    invalid: np.ndarray  # NaN/inf coordinate or score, w <= 0 or h <= 0
    small: np.ndarray  # valid, but CocoDataset drops it (< 1 px, outside)
    unmapped: np.ndarray  # valid and big enough, class mapped to no student
    below_thr: np.ndarray  # valid, mapped, score < score_thr


def keep_rule(boxes, hw, scores, labels, label_lut, score_thr):
    """The one rule that decides which pseudo boxes a student sees.

    Used vectorised over the whole store at load and per image by
    :meth:`PseudoLabelDataset.get_data_info`, so both always agree.

    Args:
        boxes (np.ndarray): (k, 4) x1, y1, x2, y2.
        hw (np.ndarray): (k, 2) (height, width) of each box's image.
        scores (np.ndarray): (k,) teacher scores.
        labels (np.ndarray): (k,) teacher labels (valid indexes into
            ``label_lut``).
        label_lut (np.ndarray): Teacher label -> student label, -1 dropped.
        score_thr (float): Keep ``score >= score_thr``.

    Returns:
        BoxVerdict: ``keep`` and the reason of every other box.
    """
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    x1, y1, x2, y2 = boxes.T
    img_h, img_w = np.asarray(hw).astype(boxes.dtype, copy=False).T
    with np.errstate(invalid='ignore', over='ignore'):
        # widths in float64: exact for float32 coordinates, so the < 1 px
        # rule matches CocoDataset's (Python floats) to the last bit; a
        # non-finite coordinate makes w or h NaN or +-inf.
        w = np.subtract(x2, x1, dtype=np.float64)
        h = np.subtract(y2, y1, dtype=np.float64)
        invalid = ~((w > 0) & (w < np.inf) & (h > 0) & (h < np.inf)
                    & np.isfinite(scores))
        # mmdet CocoDataset.parse_data_info: drop w < 1, h < 1 and boxes
        # that do not intersect the image (intersection width <= 0 is
        # min(x2, W) <= max(x1, 0), compared without a subtraction).
        small = ~invalid & ((w < 1) | (h < 1)
                            | (np.minimum(x2, img_w) <= np.maximum(x1, 0))
                            | (np.minimum(y2, img_h) <= np.maximum(y1, 0)))
        good = ~(invalid | small)
        mapped = (label_lut >= 0)[labels]
        high = scores >= score_thr
    good_mapped = good & mapped
    return BoxVerdict(
        keep=good_mapped & high,
        invalid=invalid,
        small=small,
        unmapped=good & ~mapped,
        below_thr=good_mapped & ~high)
