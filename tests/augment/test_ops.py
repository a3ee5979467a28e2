"""Correctness of the detection AutoAugment operations.

Property tests (hypothesis) over random images, boxes and masks for every
operation, and exactness tests against hand-computed expectations of the
released tensorflow/tpu ``autoaugment_utils.py`` semantics.
"""
import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from rethink_mmdet.augment import levels
from rethink_mmdet.augment.instances import (check_instances, clip_and_drop,
                                             filter_instances)
from .conftest import assert_rows_aligned, detection_results, random_results

GEOMETRIC = ('TranslateXBBox', 'TranslateYBBox', 'ShearXBBox', 'ShearYBBox',
             'RotateBBox')
BBOX_ONLY_MOVING = ('TranslateXOnlyBBoxes', 'TranslateYOnlyBBoxes',
                    'ShearXOnlyBBoxes', 'ShearYOnlyBBoxes', 'RotateOnlyBBoxes',
                    'FlipOnlyBBoxes')
BBOX_ONLY_PIXEL = ('EqualizeOnlyBBoxes', 'CutoutOnlyBBoxes',
                   'SolarizeOnlyBBoxes', 'ColorOnlyBBoxes',
                   'BrightnessOnlyBBoxes', 'ContrastOnlyBBoxes',
                   'SharpnessOnlyBBoxes')
CUTOUTS = ('CenteredCutout', 'BBoxCutout')
ALL_OPS = GEOMETRIC + BBOX_ONLY_MOVING + BBOX_ONLY_PIXEL + CUTOUTS
# 40 examples per op keep the whole file well under a minute on one core.
PROPERTY = settings(deadline=None, max_examples=40, database=None)
LEVELS = st.sampled_from([0, 2, 4, 6, 8, 10, 15])


def build(name, **kwargs):
    kwargs.setdefault('prob', 1.0)
    kwargs.setdefault('level', 10)
    return TRANSFORMS.build(dict(type=name, **kwargs))


def boxes_of(results):
    return results['gt_bboxes'].tensor.numpy().astype(np.float64)


def tight_mask_boxes(masks):
    return HorizontalBoxes.from_instance_masks(masks).tensor.numpy()


def boxes_sample(img, boxes):
    """A sample with just an image and boxes."""
    return dict(
        img=img,
        img_shape=img.shape[:2],
        gt_bboxes=HorizontalBoxes(torch.tensor(boxes, dtype=torch.float32)))


def assert_boxes_valid(results):
    height, width = results['img'].shape[:2]
    boxes = boxes_of(results)
    assert np.isfinite(boxes).all()
    assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= width).all()
    assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= height).all()
    assert (boxes[:, 2] > boxes[:, 0]).all()
    assert (boxes[:, 3] > boxes[:, 1]).all()


# ---------------------------------------------------------------- properties
@pytest.mark.parametrize('name', ALL_OPS)
@PROPERTY
@given(sample=detection_results(), level=LEVELS, seed=st.integers(0, 2**16))
def test_every_op_keeps_sample_consistent(name, sample, level, seed):
    """uint8 in, uint8 out; shape kept; boxes finite, inside, non-empty;
    rows aligned; bbox-only ops and cutouts never change boxes."""
    before = copy.deepcopy(sample)
    np.random.seed(seed)
    out = build(name, level=level)(sample)
    assert out['img'].dtype == np.uint8
    assert out['img'].shape == before['img'].shape
    assert_boxes_valid(out)
    assert_rows_aligned(out, len(before['gt_bboxes']))
    if 'gt_masks' in out:
        masks = out['gt_masks']
        assert (masks.height, masks.width) == before['img'].shape[:2]
    if 'gt_seg_map' in out:
        assert out['gt_seg_map'].shape == before['gt_seg_map'].shape
    if name not in GEOMETRIC:
        np.testing.assert_array_equal(boxes_of(out), boxes_of(before))


@pytest.mark.parametrize('name', GEOMETRIC)
@PROPERTY
@given(
    sample=detection_results(min_boxes=1, mask_kinds=('bitmap', 'polygon')),
    level=LEVELS,
    seed=st.integers(0, 2**16))
def test_recomputed_box_is_tight_box_of_mask(name, sample, level, seed):
    np.random.seed(seed)
    out = build(name, level=level, recompute_bbox=True)(sample)
    np.testing.assert_allclose(
        boxes_of(out), tight_mask_boxes(out['gt_masks']), atol=1.0)
    assert (out['gt_masks'].areas > 0).all()


@pytest.mark.parametrize('name', GEOMETRIC)
@PROPERTY
@given(
    sample=detection_results(min_boxes=1, mask_kinds=('rect', )),
    level=LEVELS,
    seed=st.integers(0, 2**16))
def test_corner_box_encloses_rectangular_mask(name, sample, level, seed):
    """Released behaviour: the box of the transformed corners always
    contains the transformed box-shaped mask, and equals its tight box
    wherever clipping at the image border did not cut the box."""
    np.random.seed(seed)
    out = build(name, level=level)(sample)
    height, width = out['img'].shape[:2]
    boxes, tight = boxes_of(out), tight_mask_boxes(out['gt_masks'])
    assert (tight[:, :2] >= boxes[:, :2] - 1.0).all()
    assert (tight[:, 2:] <= boxes[:, 2:] + 1.0).all()
    inner = ((boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 2] < width) &
             (boxes[:, 3] < height))
    np.testing.assert_allclose(boxes[inner], tight[inner], atol=1.0)


@pytest.mark.parametrize('name', BBOX_ONLY_MOVING + BBOX_ONLY_PIXEL)
@PROPERTY
@given(
    sample=detection_results(min_boxes=1),
    level=LEVELS,
    seed=st.integers(0, 2**16))
def test_bbox_only_changes_nothing_outside_boxes(name, sample, level, seed):
    """Pixels (and masks) outside the TF pixel crops of the boxes stay;
    masks change only for the ops that move pixels."""
    before = copy.deepcopy(sample)
    np.random.seed(seed)
    out = build(name, level=level)(sample)
    height, width = before['img'].shape[:2]
    outside = np.ones((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes_of(before):
        outside[int(y1):min(int(y2), height - 1) + 1,
                int(x1):min(int(x2), width - 1) + 1] = False
    np.testing.assert_array_equal(out['img'][outside], before['img'][outside])
    if 'gt_masks' not in before:
        return
    new_masks = out['gt_masks'].to_ndarray()
    old_masks = before['gt_masks'].to_ndarray()
    if name in BBOX_ONLY_PIXEL:
        assert type(out['gt_masks']) is type(before['gt_masks'])
        np.testing.assert_array_equal(new_masks, old_masks)
    else:
        np.testing.assert_array_equal(new_masks[:, outside],
                                      old_masks[:, outside])


@pytest.mark.parametrize('name', ALL_OPS)
def test_samples_without_boxes_pass_through(name):
    empty = random_results(seed=1, num_boxes=0)
    out = build(name)(empty)
    assert len(out['gt_bboxes']) == 0 and len(out['gt_masks']) == 0
    assert out['img'].dtype == np.uint8
    image_only = dict(img=random_results(seed=2)['img'], img_shape=(64, 80))
    out = build(name)(image_only)
    assert out['img'].shape == (64, 80, 3) and 'gt_bboxes' not in out


@pytest.mark.parametrize('name', ('RotateBBox', 'FlipOnlyBBoxes'))
def test_ndarray_boxes_stay_ndarray(name):
    sample = random_results(seed=3, masks=None)
    sample['gt_bboxes'] = sample['gt_bboxes'].numpy()
    out = build(name, prob=1.0)(sample)
    assert isinstance(out['gt_bboxes'], np.ndarray)
    assert out['gt_bboxes'].dtype == np.float32
    assert_rows_aligned(out, 3)


@pytest.mark.parametrize('name', ALL_OPS)
def test_same_seed_same_output(name):
    outs = []
    for _ in range(2):
        np.random.seed(123)
        outs.append(build(name, level=6)(random_results(seed=5, seg_map=True)))
    np.testing.assert_array_equal(outs[0]['img'], outs[1]['img'])
    np.testing.assert_array_equal(boxes_of(outs[0]), boxes_of(outs[1]))
    np.testing.assert_array_equal(outs[0]['gt_masks'].to_ndarray(),
                                  outs[1]['gt_masks'].to_ndarray())


# ---------------------------------------------------------------- exactness
def _striped(height, width):
    """An image whose columns and rows are all distinct."""
    yy, xx = np.mgrid[:height, :width]
    img = np.stack([xx % 251, yy % 241, (xx + 3 * yy) % 239], -1)
    return img.astype(np.uint8)


def shifted_by(new, old, pixels):
    """``new`` is ``old`` moved along columns by +``pixels`` or -``pixels``
    with the vacated columns filled with 128; return the signed shift."""
    if (new[:, pixels:] == old[:, :-pixels]).all():
        assert (new[:, :pixels] == 128).all()
        return pixels
    np.testing.assert_array_equal(new[:, :-pixels], old[:, pixels:])
    assert (new[:, -pixels:] == 128).all()
    return -pixels


def test_translate_x_level_4_moves_content_and_boxes_100px():
    img = _striped(60, 300)
    shifts = set()
    for seed in range(12):
        sample = boxes_sample(img.copy(), [[120., 10., 160., 50.]])
        np.random.seed(seed)
        out = build('TranslateXBBox', level=4)(sample)
        shift = shifted_by(out['img'], img, 100)
        np.testing.assert_allclose(
            boxes_of(out), [[120. + shift, 10., 160. + shift, 50.]])
        shifts.add(shift)
    assert shifts == {100, -100}


def test_bbox_only_translate_moves_content_inside_box_only():
    """TranslateXOnlyBBoxes L2 = 24 px inside the TF crop
    img[10:51, 20:81] of box (20, 10, 80, 50); box unchanged."""
    img = _striped(64, 100)
    seen = set()
    rest = np.ones((64, 100), dtype=bool)
    rest[10:51, 20:81] = False
    for seed in range(60):
        sample = boxes_sample(img.copy(), [[20., 10., 80., 50.]])
        np.random.seed(seed)
        out = build('TranslateXOnlyBBoxes', level=2)(sample)
        if (out['img'] == img).all():
            continue
        seen.add(shifted_by(out['img'][10:51, 20:81], img[10:51, 20:81], 24))
        np.testing.assert_array_equal(out['img'][rest], img[rest])
        np.testing.assert_array_equal(boxes_of(out), [[20., 10., 80., 50.]])
    assert seen == {24, -24}


def _rotated_corner_box(box, degrees, height, width):
    """Hand computation: rotate the corners counter-clockwise (on screen)
    about the continuous image centre and take min / max."""
    cx, cy = width / 2, height / 2
    rad = math.radians(degrees)
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]),
                 (box[2], box[3])):
        dx, dy = x - cx, y - cy
        xs.append(cx + math.cos(rad) * dx + math.sin(rad) * dy)
        ys.append(cy - math.sin(rad) * dx + math.cos(rad) * dy)
    return [
        max(min(xs), 0),
        max(min(ys), 0),
        min(max(xs), width),
        min(max(ys), height)
    ]


def test_rotate_level_10_rotates_30_degrees_about_centre():
    height, width = 120, 160
    box = [100., 30., 130., 50.]
    angles = set()
    for seed in range(10):
        img = np.zeros((height, width, 3), dtype=np.uint8)
        img[38:43, 113:118] = 255  # a dot centred at (115.5, 40.5)
        sample = boxes_sample(img, [box])
        np.random.seed(seed)
        out = build('RotateBBox', level=10, img_border_value=0)(sample)
        got = boxes_of(out)[0]
        ccw = _rotated_corner_box(box, 30, height, width)
        cw = _rotated_corner_box(box, -30, height, width)
        degrees = 30 if np.allclose(got, ccw, atol=1e-3) else -30
        np.testing.assert_allclose(got, ccw if degrees > 0 else cw, atol=1e-3)
        # the dot's centre of mass moved like a box corner would
        weight = out['img'][..., 0].astype(np.float64)
        yy, xx = np.mgrid[:height, :width] + 0.5
        dot = _rotated_corner_box([115.5, 40.5, 115.5, 40.5], degrees, height,
                                  width)
        np.testing.assert_allclose([(weight * xx).sum() / weight.sum(),
                                    (weight * yy).sum() / weight.sum()],
                                   dot[:2],
                                   atol=0.1)
        angles.add(degrees)
    assert angles == {30, -30}


def test_bbox_only_per_box_probability_is_prob_over_3():
    """Solarize L0 inverts every pixel of a selected box; 30 disjoint boxes
    x 60 images; the fraction of boxes hit is 0.6 / 3 within 5 sigma."""
    grid = [[x, y, x + 20, y + 20] for x in range(0, 300, 50)
            for y in range(0, 250, 50)]
    op = build('SolarizeOnlyBBoxes', prob=0.6, level=0)
    np.random.seed(0)
    hits = trials = 0
    for i in range(60):
        img = random_results(seed=i, height=250, width=300)['img']
        sample = boxes_sample(img, grid)
        before = sample['img'].copy()
        out = op(sample)
        for x1, y1, x2, y2 in grid:
            hits += (out['img'][y1, x1] != before[y1, x1]).any()
            trials += 1
    p = 0.6 / 3
    assert abs(hits - p * trials) < 5 * math.sqrt(trials * p * (1 - p))


@pytest.mark.parametrize(
    'level,overflow,inverted_from',
    [
        (10, 'wrap', 0),  # 256 -> uint8 0: every pixel of the box inverted
        (15, 'wrap', 128),  # 384 -> uint8 128
        (10, 'clip', None),  # no-op reading of thresholds above 255
        (15, 'clip', None),
        (8, 'clip', 204),  # below 256 both readings agree
    ])
def test_solarize_only_bboxes_thresholds_above_255(level, overflow,
                                                   inverted_from):
    """The released ``solarize`` (uint8 threshold, modulo 256) inside the
    selected box; pixels outside it never change."""
    img = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    img = np.repeat(img[..., None], 3, axis=2)  # 4 x 256, v = column
    op = build('SolarizeOnlyBBoxes', level=level, threshold_overflow=overflow)
    assert f'threshold_overflow={overflow!r}' in repr(op)
    v = np.arange(256)
    expected = v if inverted_from is None else np.where(
        v < inverted_from, v, 255 - v)
    seen = False
    for seed in range(40):  # the box is selected with probability 1/3
        sample = boxes_sample(img.copy(), [[0., 0., 255., 1.]])
        np.random.seed(seed)
        _, apply, _, _ = op._draw(1)
        np.random.seed(seed)
        out = op(sample)['img']
        np.testing.assert_array_equal(out[2:], img[2:])  # below the box
        if apply[0]:
            seen = True
            for row in (0, 1):
                np.testing.assert_array_equal(out[row, :, 0], expected)
        else:
            np.testing.assert_array_equal(out, img)
    assert seen
    with pytest.raises(ValueError, match='threshold_overflow'):
        build('SolarizeOnlyBBoxes', threshold_overflow='modulo')


def test_overlapping_boxes_compound():
    """Two identical boxes: Solarize L0 applied to both restores the pixels
    (the op runs once per selected box, in sequence)."""
    op = build('SolarizeOnlyBBoxes', prob=1.0, level=0)
    for seed in range(30):
        sample = boxes_sample(
            random_results(seed=3)['img'], [[10., 10., 40., 40.]] * 2)
        before = sample['img'].copy()
        np.random.seed(seed)
        _, apply, _, _ = op._draw(2)
        np.random.seed(seed)
        out = op(sample)
        changed = (out['img'][10:41, 10:41] != before[10:41, 10:41]).any()
        assert changed == (apply.sum() == 1)


def test_bbox_only_translate_moves_masks_with_pixels():
    sample = random_results(seed=4, num_boxes=1, masks='polygon')
    sample['gt_bboxes'] = HorizontalBoxes(torch.tensor([[10., 10., 50., 40.]]))
    for seed in range(60):
        np.random.seed(seed)
        out = build('TranslateYOnlyBBoxes', level=1)(copy.deepcopy(sample))
        if isinstance(out['gt_masks'], BitmapMasks):
            break
    else:
        pytest.fail('no box was ever selected')
    old = sample['gt_masks'].to_ndarray()[0, 10:41, 10:51]
    new = out['gt_masks'].to_ndarray()[0, 10:41, 10:51]
    assert (new[12:] == old[:-12]).all() or (new[:-12] == old[12:]).all()


def test_centered_cutout_square_of_side_2_pad():
    sides = []
    for seed in range(40):
        sample = dict(img=np.full((200, 240, 3), 7, np.uint8))
        np.random.seed(seed)
        out = build('CenteredCutout', level=3)(sample)  # pad 30
        rows, cols = np.nonzero(out['img'][..., 0] == 128)
        assert (out['img'][rows, cols] == 128).all()
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h * w == len(rows) and h <= 60 and w <= 60
        inside = (
            rows.min() > 0 and cols.min() > 0 and rows.max() < 199
            and cols.max() < 239)
        if inside:
            sides.append((h, w))
    assert sides and set(sides) == {(60, 60)}


def test_bbox_cutout_hole_centred_in_a_box():
    """BBox_Cutout L10 on box (60, 80, 120, 120), 41 x 61 TF pixels: hole
    2 * int(0.75 * 41 / 2) = 30 px high, 2 * int(0.75 * 61 / 2) = 44 px
    wide, centred at a pixel of the box."""
    for seed in range(20):
        sample = boxes_sample(
            np.full((200, 200, 3), 7, np.uint8), [[60., 80., 120., 120.]])
        np.random.seed(seed)
        out = build('BBoxCutout', level=10)(sample)
        rows, cols = np.nonzero(out['img'][..., 0] == 128)
        cy, cx = rows.min() + 15, cols.min() + 22
        assert rows.max() - rows.min() + 1 == 30
        assert cols.max() - cols.min() + 1 == 44
        assert 80 <= cy <= 120 and 60 <= cx <= 120


def test_homography_maps_boxes():
    sample = random_results(seed=6, masks=None)
    corners = boxes_of(sample)
    np.random.seed(0)
    out = build('ShearXBBox', level=10)(sample)
    hom = out['homography_matrix'].astype(np.float64)
    moved = HorizontalBoxes(torch.from_numpy(corners).float())
    moved.project_(hom)
    moved.clip_((64, 80))
    np.testing.assert_allclose(
        moved.tensor.numpy()[out['gt_bboxes_labels']],
        boxes_of(out),
        atol=1e-3)


def test_boxes_leaving_the_image_are_dropped_with_their_rows():
    sample = random_results(seed=7, height=50, width=300, masks='bitmap')
    sample['gt_bboxes'] = HorizontalBoxes(
        torch.tensor([[10., 5., 40., 30.], [200., 5., 290., 30.],
                      [150., 10., 190., 40.]]))
    sample['gt_masks'] = BitmapMasks(
        np.stack([
            np.pad(np.ones((25, 30), np.uint8), ((5, 20), (10, 260))),
            np.pad(np.ones((25, 90), np.uint8), ((5, 20), (200, 10))),
            np.pad(np.ones((30, 40), np.uint8), ((10, 10), (150, 110)))
        ]), 50, 300)
    for seed in range(10):
        np.random.seed(seed)
        out = build('TranslateXBBox', level=10)(copy.deepcopy(sample))
        assert_rows_aligned(out, 3)
        # +-250 px: exactly one of the outer boxes survives
        assert len(out['gt_bboxes']) == 1
        kept = int(out['gt_bboxes_labels'][0])
        assert kept in (0, 1)


# ------------------------------------------------------- levels, instances
def test_levels_are_the_released_magnitudes():
    assert levels.translate_pixels(4) == 100
    assert levels.translate_pixels(2, levels.TRANSLATE_BBOX_CONST) == 24
    assert levels.translate_pixels(6, levels.TRANSLATE_BBOX_CONST) == 72
    assert levels.shear_factor(2) == pytest.approx(0.06)
    assert levels.rotate_degrees(10) == 30
    assert levels.cutout_pad(8) == 80
    assert levels.cutout_pad(6, levels.CUTOUT_BBOX_CONST) == 30
    assert levels.enhance_factor(6) == pytest.approx(1.18)
    assert levels.solarize_threshold(8) == 204
    assert levels.solarize_addition(4) == 44
    assert levels.posterize_bits(10) == 4
    assert levels.bbox_cutout_pad_fraction(4) == pytest.approx(0.3)
    assert levels.translate_pixels(15) == 375  # EfficientDet magnitude 15
    assert levels.rotate_degrees(15) == 45


@pytest.mark.parametrize('level,error', [(-1, ValueError),
                                         (float('nan'), ValueError),
                                         ('4', TypeError), (None, TypeError),
                                         (True, TypeError)])
def test_bad_levels_are_rejected(level, error):
    with pytest.raises(error, match='level'):
        build('RotateBBox', level=level)


def test_mismatched_rows_are_an_error():
    sample = random_results(seed=8, num_boxes=3)
    sample['gt_scores'] = sample['gt_scores'][:2]
    with pytest.raises(ValueError, match="gt_scores.*2 rows.*3 boxes"):
        check_instances(sample)
    with pytest.raises(ValueError, match='gt_scores'):
        build('TranslateXBBox', level=4)(sample)


@pytest.mark.parametrize('masks', ['bitmap', 'polygon'])
def test_filter_and_clip_keep_rows_together(masks):
    sample = random_results(seed=9, num_boxes=4, masks=masks)
    filter_instances(sample, np.array([True, False, True, True]))
    assert_rows_aligned(sample, 4)
    assert list(sample['gt_bboxes_labels']) == [0, 2, 3]
    assert isinstance(sample['gt_masks'], (BitmapMasks, PolygonMasks))
    sample['gt_bboxes'].tensor[1] = torch.tensor([-20., 5., -1., 30.])
    keep = clip_and_drop(sample)
    assert list(keep) == [True, False, True]
    assert list(sample['gt_bboxes_labels']) == [0, 3]
    assert_rows_aligned(sample, 4)


@pytest.mark.parametrize('channels', [0, 1, 3, 4, 7])
def test_warp_equals_per_channel_cv2(channels):
    """The fast paths of ``warp`` (whole-pixel shifts by slicing, > 4
    channels one at a time) give cv2's per-channel result, border value on
    every channel."""
    import cv2

    from rethink_mmdet.augment.affine import (rotate_matrix, translate_matrix,
                                              warp, warp_masks)
    rng = np.random.RandomState(channels)
    shape = (30, 40, channels) if channels else (30, 40)
    array = rng.randint(0, 256, shape).astype(np.uint8)
    matrices = [
        translate_matrix(o, h) for o in (0, 3, -5, 40, -41, 2.5)
        for h in (True, False)
    ] + [rotate_matrix(20, 30, 40)]
    for matrix in matrices:
        planes = array.reshape(30, 40, -1).transpose(2, 0, 1)
        expected = np.stack([
            cv2.warpAffine(
                p.copy(),
                matrix, (40, 30),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=9) for p in planes
        ])
        got = warp(array, matrix, 'bilinear', 9)
        assert got.shape == array.shape and got.dtype == np.uint8
        np.testing.assert_array_equal(
            got.reshape(30, 40, -1).transpose(2, 0, 1), expected)
        np.testing.assert_array_equal(
            warp_masks(np.ascontiguousarray(planes), matrix, 'bilinear', 9),
            expected)


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
def test_warp_masks_accepts_strided_mask_stacks(interpolation):
    """Masks left transposed by an earlier op (non-contiguous planes) warp
    like their contiguous copy (cv2 refuses strided planes)."""
    from rethink_mmdet.augment.affine import warp_masks
    rng = np.random.default_rng(0)
    stack = (rng.random((3, 40, 40)) > 0.5).astype(np.uint8)
    strided = stack.transpose(0, 2, 1).copy().transpose(0, 2, 1)
    assert not strided.flags['C_CONTIGUOUS']
    matrix = np.array([[1.0, 0.0, 0.0], [-0.06, 1.0, 0.0]])
    np.testing.assert_array_equal(
        warp_masks(strided, matrix, interpolation),
        warp_masks(np.ascontiguousarray(stack), matrix, interpolation))
