"""Quality of pseudo labels against hidden ground truth.

Where the unlabeled images have ground truth that training never reads
(COCO train2017 used as the unlabeled set; a built-in shapes split written
with its annotations to a separate file), the teacher's labels can be
scored like a detector's output (Zoph et al. 2020, Sec. 3: the student
learns from these boxes, so their precision and recall bound what it can
learn):

- AP: pycocotools' COCOeval (bbox) of the store (every box, its score as
  the detection score) against the ground truth of the store's images;
- precision / recall at a score threshold ``t``: the boxes scoring
  ``>= t`` matched greedily, highest score first, each to the unmatched
  ground-truth box of the same class with the highest IoU if that IoU is
  ``>= iou`` (0.5); precision = matched / kept boxes, recall = matched /
  ground-truth boxes (crowd regions excluded from both: a box on a crowd
  region is neither right nor wrong, as in COCOeval).

Images are paired by ``image_id`` (a store labeled from the image-only
COCO JSON of the same images) or by ``file_name`` (its base name; a store
labeled from an image folder numbers images 1..N).
"""
import contextlib
import io
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from rethink_mmdet.self_training.store import PseudoLabelStore

__all__ = ['QualityError', 'pseudo_label_quality', 'precision_recall']


class QualityError(ValueError):
    """Store and ground truth that cannot be compared."""


def _pair_images(store, gt: COCO, match: str) -> Dict[int, int]:
    """store index -> ground-truth image id."""
    if match == 'image_id':
        key_of = {im_id: im_id for im_id in gt.getImgIds()}
        keys = [int(i) for i in store.image_ids]
    else:
        key_of = {
            osp.basename(im['file_name']): im['id']
            for im in gt.dataset['images']
        }
        keys = [
            osp.basename(store.image(i)['path']) for i in range(len(store))
        ]
    missing = [k for k in keys if k not in key_of]
    if missing:
        raise QualityError(
            f'{len(missing)} of {len(keys)} store images (e.g. '
            f'{missing[0]!r}) have no ground-truth image by {match}: is the '
            "ground truth of these images? Try quality_match='file_name' "
            "or 'image_id'.")
    return {i: key_of[k] for i, k in enumerate(keys)}


def _category_map(store, gt: COCO) -> List[int]:
    """store label -> ground-truth category id (by class name)."""
    by_name = {c['name']: c['id'] for c in gt.dataset['categories']}
    missing = [c for c in store.classes if c not in by_name]
    if missing:
        raise QualityError(
            f'teacher classes {missing} are not ground-truth categories '
            f'{sorted(by_name)}.')
    return [by_name[c] for c in store.classes]


def _detections(store, images, cats) -> List[dict]:
    dets = []
    for i, gt_id in images.items():
        rec = store.image(i)
        for box, score, label in zip(rec['boxes'].tolist(),
                                     rec['scores'].tolist(),
                                     rec['labels'].tolist()):
            x1, y1, x2, y2 = box
            dets.append(
                dict(
                    image_id=gt_id,
                    category_id=cats[label],
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    score=float(score)))
    return dets


def precision_recall(dets: Sequence[dict],
                     gt: COCO,
                     img_ids: Sequence[int],
                     thr: float,
                     iou: float = 0.5) -> dict:
    """Greedy matching at score threshold ``thr`` (see the module
    docstring). Returns ``{'thr', 'boxes', 'gt', 'matched', 'precision',
    'recall'}`` (precision None without boxes, recall None without
    ground truth)."""
    kept = defaultdict(list)
    kept_cats = defaultdict(set)  # image -> its kept boxes' classes
    for d in dets:
        if d['score'] >= thr:
            kept[(d['image_id'], d['category_id'])].append(d)
            kept_cats[d['image_id']].add(d['category_id'])
    n_boxes = n_gt = matched = ignored = 0
    for img in img_ids:
        anns = gt.loadAnns(gt.getAnnIds(imgIds=[img]))
        by_cat = defaultdict(list)
        for a in anns:
            by_cat[a['category_id']].append(a)
        n_gt += sum(1 for a in anns if not a.get('iscrowd', 0))
        for cat in set(by_cat) | kept_cats[img]:
            boxes = sorted(kept.get((img, cat), []), key=lambda d: -d['score'])
            n_boxes += len(boxes)
            truth = by_cat.get(cat, [])
            if not boxes or not truth:
                continue
            crowd = [int(a.get('iscrowd', 0)) for a in truth]
            ious = mask_utils.iou([d['bbox'] for d in boxes],
                                  [a['bbox'] for a in truth], crowd)
            free = [not c for c in crowd]
            for row in np.atleast_2d(ious):
                cand = [(v, j) for j, v in enumerate(row)
                        if free[j] and v >= iou]
                if cand:
                    free[max(cand)[1]] = False
                    matched += 1
                elif any(c and v >= iou for c, v in zip(crowd, row)):
                    ignored += 1
    n_boxes -= ignored
    return dict(
        thr=float(thr),
        boxes=n_boxes,
        gt=n_gt,
        matched=matched,
        precision=matched / n_boxes if n_boxes else None,
        recall=matched / n_gt if n_gt else None)


def pseudo_label_quality(store_dir: str,
                         gt_file: str,
                         thresholds: Sequence[float],
                         iou: float = 0.5,
                         match: str = 'image_id') -> dict:
    """Score a pseudo-label store against a COCO ground-truth JSON.

    Args:
        store_dir (str): A finalized store (``tools/pseudo_label.py
            --out``).
        gt_file (str): COCO JSON with the unlabeled images' annotations.
        thresholds (Sequence[float]): Score thresholds for precision and
            recall (the labeler's floor, the student's ``score_thr``...).
        iou (float): Match IoU. Defaults to 0.5.
        match (str): Pair images by ``'image_id'`` or ``'file_name'``.
            Defaults to ``'image_id'``.

    Returns:
        dict: ``{'images', 'boxes', 'gt_boxes', 'AP', 'AP50', 'pr':
        [precision_recall(...) per threshold]}`` (AP -1.0 as COCOeval
        gives it when there is nothing to score).
    """
    store = PseudoLabelStore(store_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_file)
    images = _pair_images(store, gt, match)
    cats = _category_map(store, gt)
    dets = _detections(store, images, cats)
    img_ids = sorted(set(images.values()))
    ap = ap50 = -1.0
    if dets:
        with contextlib.redirect_stdout(io.StringIO()):
            ev = COCOeval(gt, gt.loadRes(dets), 'bbox')
            ev.params.imgIds = img_ids
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        ap, ap50 = float(ev.stats[0]), float(ev.stats[1])
    n_gt = len([
        a for a in gt.loadAnns(gt.getAnnIds(imgIds=img_ids))
        if not a.get('iscrowd', 0)
    ])
    return dict(
        images=len(img_ids),
        boxes=len(dets),
        gt_boxes=n_gt,
        AP=ap,
        AP50=ap50,
        pr=[
            precision_recall(dets, gt, img_ids, t, iou)
            for t in sorted(set(float(t) for t in thresholds))
        ])
