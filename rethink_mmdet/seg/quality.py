# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""How good a segmentation pseudo-label store is, against ground truth.

Zoph et al. 2020, Sec. 3.2 keep a teacher pixel only where its averaged
class probability is >= 0.5: the threshold trades how many pixels the
student learns from against how right they are. :func:`score_pseudo_labels`
reports both sides, summed over the store's images (as mmseg's
``IoUMetric`` sums areas over a dataset), with mmseg's own
``IoUMetric.intersect_and_union``:

- ``kept_fraction``: the fraction of the ground truth's valid pixels (not
  255) that the labeler kept (did not set to the ignore index);
- ``kept_iou`` / ``kept_miou`` / ``kept_accuracy``: per-class IoU, their
  mean over classes present, and pixel accuracy, on the kept pixels only
  (how right the labels the student trains on are);
- ``iou`` / ``miou``: per-class IoU and mean over all valid pixels with an
  ignored pixel counted as wrong (a missed pixel of its true class; how
  much of the ground truth the store recovers).

For the shapes data the hidden ground truth of the unlabeled split is
``ROOT/seg_maps/unlabeled/*.png`` (``tools/make_shapes_seg.py``).
"""
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmseg.evaluation.metrics import IoUMetric
from PIL import Image

from .pseudo_reader import PseudoSegStore

__all__ = ['score_pseudo_labels']


def _iou(intersect, union):
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = intersect / union
    return iou, float(np.nanmean(iou)) if np.any(union > 0) else float('nan')


def _read(path: str) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path), dtype=np.int64))


def score_pseudo_labels(store: str,
                        gt_dir: str,
                        gt_suffix: str = '.png',
                        img_root: Optional[str] = None) -> dict:
    """Score a segmentation pseudo-label store against ground-truth maps.

    Args:
        store (str): A finished segmentation store directory.
        gt_dir (str): Folder of the ground-truth class maps: the map of the
            store image at relative path ``P`` is ``gt_dir/`` + ``P``
            without its extension + ``gt_suffix``.
        gt_suffix (str): Defaults to ``'.png'``.
        img_root (str, optional): Passed to :class:`PseudoSegStore`.
            Defaults to None.

    Returns:
        dict: ``classes``, ``num_images``, ``kept_fraction``, ``kept_iou``
        (list, NaN for a class absent from both), ``kept_miou``,
        ``kept_accuracy``, ``iou`` and ``miou`` (see the module docstring).
    """
    reader = PseudoSegStore(store, img_root)
    num_classes, ignore = len(reader.classes), reader.ignore_index
    kept = np.zeros((3, num_classes))  # intersect, union, label area
    every = np.zeros((2, num_classes))
    valid_pixels = kept_pixels = 0
    for i in range(len(reader)):
        pred = _read(reader.label_path(i))
        gt_path = osp.join(
            gt_dir,
            osp.splitext(reader.relative_path(i))[0] + gt_suffix)
        if not osp.isfile(gt_path):
            raise FileNotFoundError(
                f'{gt_path}: no ground-truth map for store image '
                f'{reader.image_path(i)}; give the folder of the source\'s '
                'class maps as gt_dir (shapes: ROOT/seg_maps/unlabeled).')
        gt = _read(gt_path)
        if gt.shape != pred.shape:
            raise ValueError(
                f'{gt_path}: ground truth {tuple(gt.shape)} but label map '
                f'{reader.label_path(i)} {tuple(pred.shape)}: not the same '
                'image.')
        valid = gt != ignore
        valid_pixels += int(valid.sum())
        kept_pixels += int((valid & (pred != ignore)).sum())
        inter, union, _, label = IoUMetric.intersect_and_union(
            pred, gt, num_classes, ignore)
        every += np.stack([inter.numpy(), union.numpy()])
        gt_kept = torch.where(pred != ignore, gt, torch.full_like(gt, ignore))
        inter, union, _, label = IoUMetric.intersect_and_union(
            pred, gt_kept, num_classes, ignore)
        kept += np.stack([inter.numpy(), union.numpy(), label.numpy()])
    kept_iou, kept_miou = _iou(kept[0], kept[1])
    iou, miou = _iou(every[0], every[1])
    return dict(
        classes=list(reader.classes),
        num_images=len(reader),
        kept_fraction=kept_pixels / valid_pixels if valid_pixels else 0.0,
        kept_iou=kept_iou.tolist(),
        kept_miou=kept_miou,
        kept_accuracy=(float(kept[0].sum() / kept[2].sum())
                       if kept[2].sum() else float('nan')),
        iou=iou.tolist(),
        miou=miou)
