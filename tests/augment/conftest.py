"""Random mmdet detection samples for the augmentation tests.

``random_results(seed, ...)`` builds one ``results`` dict as mmdet's loading
pipeline leaves it (uint8 BGR image, ``HorizontalBoxes``, int64 labels, bool
ignore flags, instance masks, float32 teacher scores, ``img_shape``);
``detection_results(...)`` is the hypothesis strategy over it. Row ``i`` is
encoded in every per-box key so a test can check that rows stay aligned:
``label == i``, ``score == i + 0.25``, ``ignore == (i % 2 == 1)``; use
:func:`assert_rows_aligned`.
"""
import numpy as np
import torch
from hypothesis import strategies as st

from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

MASK_KINDS = (None, 'rect', 'bitmap', 'polygon')


def _boxes(rng, num, height, width, min_box, integer):
    """``num`` boxes inside the image with sides >= ``min_box``."""
    boxes = np.zeros((num, 4), dtype=np.float32)
    for i in range(num):
        bw = rng.uniform(min_box, max(min_box, width * 0.6))
        bh = rng.uniform(min_box, max(min_box, height * 0.6))
        x1 = rng.uniform(0, width - bw)
        y1 = rng.uniform(0, height - bh)
        boxes[i] = (x1, y1, x1 + bw, y1 + bh)
    if integer:
        boxes = np.floor(boxes)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + min_box)
        boxes[:, 2] = np.minimum(boxes[:, 2], width)
        boxes[:, 3] = np.minimum(boxes[:, 3], height)
    return boxes


def _octagon(box):
    """An octagon inscribed in ``box``; its vertex box equals ``box``."""
    x1, y1, x2, y2 = box
    angles = np.arange(8) * np.pi / 4
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, \
        (y2 - y1) / 2
    pts = np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], 1)
    return [pts.reshape(-1).astype(np.float64)]


def _masks(kind, boxes, height, width):
    if kind == 'polygon':
        return PolygonMasks([_octagon(b) for b in boxes], height, width)
    masks = np.zeros((len(boxes), height, width), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width] + 0.5
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if kind == 'rect':
            masks[i, int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = 1
        else:  # an ellipse inscribed in the box
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            rx, ry = (x2 - x1) / 2, (y2 - y1) / 2
            masks[i] = (((xx - cx) / rx)**2 + ((yy - cy) / ry)**2) <= 1
    return BitmapMasks(masks, height, width)


def random_results(seed=0,
                   height=64,
                   width=80,
                   num_boxes=3,
                   masks='bitmap',
                   min_box=6,
                   integer_boxes=None,
                   seg_map=False):
    """One random mmdet detection sample.

    Args:
        seed (int): Seed of the sample's own generator. Defaults to 0.
        height (int): Image height. Defaults to 64.
        width (int): Image width. Defaults to 80.
        num_boxes (int): Number of boxes (0 allowed). Defaults to 3.
        masks (str | None): None (no ``gt_masks``), 'rect' (BitmapMasks equal
            to the box region; integer boxes), 'bitmap' (inscribed ellipses)
            or 'polygon' (inscribed octagons). Defaults to 'bitmap'.
        min_box (int): Smallest box side in pixels. Defaults to 6.
        integer_boxes (bool, optional): Integer box coordinates. Defaults to
            None (True for 'rect' masks, else False).
        seg_map (bool): Also add a ``gt_seg_map`` (box labels painted in box
            order, 255 elsewhere). Defaults to False.
    """
    rng = np.random.RandomState(seed)
    if integer_boxes is None:
        integer_boxes = masks == 'rect'
    img = rng.randint(0, 256, (height, width, 3)).astype(np.uint8)
    boxes = _boxes(rng, num_boxes, height, width, min_box, integer_boxes)
    rows = np.arange(num_boxes)
    results = dict(
        img=img,
        img_shape=(height, width),
        ori_shape=(height, width),
        gt_bboxes=HorizontalBoxes(torch.from_numpy(boxes)),
        gt_bboxes_labels=rows.astype(np.int64),
        gt_ignore_flags=rows % 2 == 1,
        gt_scores=(rows + 0.25).astype(np.float32))
    if masks is not None:
        results['gt_masks'] = _masks(masks, boxes, height, width)
    if seg_map:
        seg = np.full((height, width), 255, dtype=np.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
            seg[y1:y2, x1:x2] = i % 250
        results['gt_seg_map'] = seg
    return results


@st.composite
def detection_results(draw,
                      min_boxes=0,
                      max_boxes=6,
                      mask_kinds=MASK_KINDS,
                      min_side=24,
                      max_side=96):
    """Hypothesis strategy over :func:`random_results` samples."""
    return random_results(
        seed=draw(st.integers(0, 2**31 - 1)),
        height=draw(st.integers(min_side, max_side)),
        width=draw(st.integers(min_side, max_side)),
        num_boxes=draw(st.integers(min_boxes, max_boxes)),
        masks=draw(st.sampled_from(mask_kinds)),
        seg_map=draw(st.booleans()))


def assert_rows_aligned(results, num_before=None):
    """Every per-box key has one row per box and row ``k`` still carries
    the encoding of one original row ``i`` (label i, score i + 0.25, ignore
    i odd); rows keep their original order."""
    num = len(results['gt_bboxes'])
    labels = results['gt_bboxes_labels']
    assert len(labels) == num
    assert len(results['gt_ignore_flags']) == num
    assert len(results['gt_scores']) == num
    if 'gt_masks' in results:
        assert len(results['gt_masks']) == num
    np.testing.assert_array_equal(results['gt_scores'],
                                  (labels + 0.25).astype(np.float32))
    np.testing.assert_array_equal(results['gt_ignore_flags'], labels % 2 == 1)
    assert np.all(np.diff(labels) > 0)
    if num_before is not None:
        assert num <= num_before and np.all(labels < num_before)
