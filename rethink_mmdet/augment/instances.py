"""Per-box rows of an mmdet ``results`` dict, kept in step.

A detection sample carries several arrays with one row per box: the boxes,
their labels, ignore flags, instance masks and -- for a self-training student
-- the teacher's score of each pseudo box. Any transform that drops boxes
must drop the same rows from all of them; this module is the one place that
knows those keys (the trap of ``mmdet.datasets.transforms.RandomCrop``-style
code that indexes a hand-written list of keys in each transform).
"""
import numpy as np
import torch

from mmdet.structures.bbox import BaseBoxes

#: Per-box float32 teacher score carried by the self-training student.
SCORE_KEY = 'gt_scores'
BOXES_KEY = 'gt_bboxes'
MASKS_KEY = 'gt_masks'
#: Every key of ``results`` that holds one row per box.
INSTANCE_KEYS = (BOXES_KEY, 'gt_bboxes_labels', 'gt_ignore_flags', MASKS_KEY,
                 SCORE_KEY)

#: The Required Keys section of every box-aware transform's docstring.
REQUIRED_KEYS_DOC = """
    Required Keys:

    - img (np.uint8)
    - gt_bboxes (BaseBoxes[torch.float32]) (optional)
    - gt_bboxes_labels (np.int64) (optional)
    - gt_ignore_flags (bool) (optional)
    - gt_masks (BitmapMasks | PolygonMasks) (optional)
    - gt_scores (np.float32) (optional)
    - gt_seg_map (np.uint8) (optional)
"""


def num_instances(results):
    """Number of boxes in ``results``, or None when it has no ``gt_bboxes``.
    """
    boxes = results.get(BOXES_KEY)
    return None if boxes is None else len(boxes)


def check_instances(results, keys=INSTANCE_KEYS):
    """Raise if a per-box row key has a different length than ``gt_bboxes``.

    Args:
        results (dict): The sample.
        keys (Sequence[str]): The per-box keys. Defaults to
            ``INSTANCE_KEYS``.

    Returns:
        int | None: The number of boxes (None without ``gt_bboxes``).
    """
    num = num_instances(results)
    if num is None:
        return None
    for key in keys:
        value = results.get(key)
        if value is not None and len(value) != num:
            raise ValueError(
                f"results['{key}'] has {len(value)} rows but "
                f"results['{BOXES_KEY}'] has {num} boxes: every per-box key "
                f'({", ".join(keys)}) must have one row per box. Fix the '
                'loading step or the transform that changed one of them '
                'without the others.')
    return num


def filter_instances(results, keep, keys=INSTANCE_KEYS):
    """Keep the rows ``keep`` of every per-box key present in ``results``.

    Args:
        results (dict): The sample; modified in place.
        keep (np.ndarray): Boolean mask over the boxes, or integer indices.
        keys (Sequence[str]): The per-box keys. Defaults to
            ``INSTANCE_KEYS``.

    Returns:
        dict: ``results``.
    """
    num = check_instances(results, keys)
    if num is None:
        return results
    keep = np.asarray(keep)
    if keep.dtype == bool:
        if keep.shape != (num, ):
            raise ValueError(f'filter_instances: keep mask of shape '
                             f'{keep.shape} for {num} boxes.')
        if keep.all():
            return results
        index = np.flatnonzero(keep)
    else:
        index = keep.astype(np.int64).reshape(-1)
    for key in keys:
        value = results.get(key)
        if value is None:
            continue
        if isinstance(value, (BaseBoxes, torch.Tensor)):
            results[key] = value[torch.as_tensor(index)]
        else:  # np.ndarray, BitmapMasks, PolygonMasks
            results[key] = value[index]
    return results


def box_array(results):
    """The boxes of ``results`` as a float64 ``(N, 4)`` ndarray (x1y1x2y2).
    """
    boxes = results[BOXES_KEY]
    if isinstance(boxes, BaseBoxes):
        boxes = boxes.tensor
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.detach().cpu().numpy()
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def set_box_array(results, array):
    """Write an ``(N, 4)`` array back into ``results['gt_bboxes']`` keeping
    its type (``BaseBoxes`` subclass, tensor or ndarray) and dtype."""
    boxes = results[BOXES_KEY]
    if isinstance(boxes, BaseBoxes):
        tensor = torch.as_tensor(array, dtype=boxes.tensor.dtype)
        results[BOXES_KEY] = type(boxes)(tensor.reshape(-1, 4))
    elif isinstance(boxes, torch.Tensor):
        results[BOXES_KEY] = torch.as_tensor(array, dtype=boxes.dtype)
    else:
        results[BOXES_KEY] = np.asarray(array, dtype=boxes.dtype)


def clip_and_drop(results,
                  min_size=0.0,
                  keep=None,
                  img_shape=None,
                  boxes=None,
                  keys=INSTANCE_KEYS):
    """Clip the boxes to ``img_shape`` and drop the empty ones with all
    their rows.

    Args:
        results (dict): The sample with ``img_shape``; modified in place.
        min_size (float): A box is kept only if its clipped width and height
            are both larger than this. Defaults to 0.0 (drop zero-area
            boxes).
        keep (np.ndarray, optional): Extra boolean mask of boxes to keep
            (e.g. boxes whose mask is still non-empty). Defaults to None.
        img_shape (tuple[int], optional): ``(h, w)`` to clip to. Defaults
            to None (``results['img_shape']``).
        boxes (np.ndarray, optional): New ``(N, 4)`` boxes to write into
            ``results['gt_bboxes']`` instead of clipping the current ones.
            Defaults to None.
        keys (Sequence[str]): The per-box keys. Defaults to
            ``INSTANCE_KEYS``.

    Returns:
        np.ndarray: Boolean mask of the kept boxes over the input boxes
        (None without ``gt_bboxes``).
    """
    num = check_instances(results, keys)
    if num is None:
        return None
    if img_shape is None:
        img_shape = results['img_shape']
    height, width = img_shape[:2]
    if boxes is None:
        boxes = box_array(results)
    elif len(boxes) != num:
        raise ValueError(f'clip_and_drop: {len(boxes)} new boxes for {num} '
                         'rows.')
    boxes = np.asarray(boxes, dtype=np.float64).copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    valid = np.isfinite(boxes).all(axis=1)
    valid &= (boxes[:, 2] - boxes[:, 0] > min_size)
    valid &= (boxes[:, 3] - boxes[:, 1] > min_size)
    if keep is not None:
        valid &= np.asarray(keep, dtype=bool)
    set_box_array(results, boxes)
    filter_instances(results, valid, keys)
    return valid
