"""Pixel magnitudes relative to the image: ``reference_size``
scales the released pixel constants (made for 640 px COCO images) by
``R / 640`` on the ops and the policies; None keeps the release exactly
(reference/papers.md Sec. 2, "In a miniature, pixel magnitudes must scale
with the image").
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import rethink_mmdet  # noqa: F401  (registers the transforms)
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from rethink_mmdet.augment import levels
from rethink_mmdet.augment.policies import (OP_NAMES, DetectionAutoAugment,
                                            op_config)
from rethink_mmdet.augment.randaugment import DetectionRandAugment
from tests.conftest import REPO
from .conftest import random_results

FRAGMENTS = osp.join(REPO, 'configs', '_base_', 'augment')
PIXEL_OPS = ('TranslateX_BBox', 'TranslateY_BBox', 'TranslateX_Only_BBoxes',
             'TranslateY_Only_BBoxes', 'Cutout', 'Cutout_Only_BBoxes')


def dot_sample(row=100, col=120):
    """256 x 256 black image with one bright pixel inside a known box."""
    img = np.zeros((256, 256, 3), np.uint8)
    img[row, col] = 255
    return dict(
        img=img,
        img_shape=(256, 256),
        gt_bboxes=HorizontalBoxes(
            torch.tensor([[col - 10., row - 10., col + 10., row + 10.]])))


def bright(img):
    rows, cols = np.nonzero(img[..., 0] == 255)
    return list(zip(rows.tolist(), cols.tolist()))


@pytest.mark.parametrize('build', [
    lambda: TRANSFORMS.build(
        dict(type='TranslateXBBox', prob=1.0, level=4, reference_size=256)),
    lambda: DetectionAutoAugment(
        policies=[[('TranslateX_BBox', 1.0, 4)]], reference_size=256),
    lambda: DetectionRandAugment(
        magnitude=4, ops=('TranslateX_BBox', ), reference_size=256),
])
def test_translate_x_level_4_at_256_moves_40px(build):
    """250 * 4/10 * 256/640 = 40 px, pixel and box, both signs."""
    op = build()
    shifts = set()
    for seed in range(12):
        np.random.seed(seed)
        out = op(dot_sample())
        ((row, col), ) = bright(out['img'])
        shift = col - 120
        assert row == 100 and abs(shift) == 40
        np.testing.assert_array_equal(
            out['gt_bboxes'].tensor.numpy(),
            [[110. + shift, 90., 130. + shift, 110.]])
        shifts.add(shift)
    assert shifts == {40, -40}


@pytest.mark.parametrize('build', [
    lambda: TRANSFORMS.build(
        dict(type='CenteredCutout', prob=1.0, level=8, reference_size=256)),
    lambda: DetectionAutoAugment(
        policies=[[('Cutout', 1.0, 8)]], reference_size=256),
])
def test_cutout_level_8_at_256_cuts_a_64px_square(build):
    """pad int(100 * 8/10) = 80 at 640 -> int(80 * 256/640) = 32 at 256:
    a square of side 64 wherever it is not clipped by the border."""
    op = build()
    sides = []
    for seed in range(30):
        np.random.seed(seed)
        out = op(dict(img=np.full((256, 256, 3), 7, np.uint8)))
        rows, cols = np.nonzero(out['img'][..., 0] == 128)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h * w == len(rows) and h <= 64 and w <= 64
        if rows.min() > 0 and cols.min() > 0 and rows.max() < 255 and \
                cols.max() < 255:
            sides.append((h, w))
    assert len(sides) > 5 and set(sides) == {(64, 64)}


def test_levels_scale_the_released_pixel_result():
    # None: the released values, rounding included
    assert levels.translate_pixels(4) == 100
    assert levels.translate_pixels(4, reference_size=None) == 100
    assert levels.cutout_pad(8, reference_size=None) == 80
    # 256: the released pixels x 0.4; the cutout pad truncated after
    assert levels.translate_pixels(4, reference_size=256) == 40
    assert levels.translate_pixels(
        6, levels.TRANSLATE_BBOX_CONST, reference_size=256) == 28.8
    assert levels.cutout_pad(8, reference_size=256) == 32
    assert levels.cutout_pad(3, reference_size=256) == 12  # 30 * 0.4
    # int(50 * 7/10) = 35 -> 35 * 0.4 = 14; int(20 * 0.4 = 8)
    assert levels.cutout_pad(7, levels.CUTOUT_BBOX_CONST, 256) == 14
    assert levels.cutout_pad(1, levels.CUTOUT_CONST, 100) == 1  # 1.5625
    assert levels.cutout_pad(10, reference_size=640) == 100


@pytest.mark.parametrize('value', [0, -256, 256.0, True, '256'])
def test_bad_reference_size_is_rejected(value):
    with pytest.raises(ValueError, match='reference_size'):
        TRANSFORMS.build(
            dict(type='CenteredCutout', level=8, reference_size=value))
    with pytest.raises(ValueError, match='reference_size'):
        DetectionAutoAugment(reference_size=value)


def test_only_pixel_ops_take_reference_size():
    for name in OP_NAMES:
        cfg = op_config(name, 1.0, 6, reference_size=256)
        assert ('reference_size' in cfg) == (name in PIXEL_OPS), name
        TRANSFORMS.build(cfg)
    # shear, rotate, the bbox fraction and the colour ops have no key
    with pytest.raises(TypeError, match='reference_size'):
        TRANSFORMS.build(dict(type='ShearXBBox', level=4, reference_size=256))
    only = TRANSFORMS.build(
        dict(type='TranslateYOnlyBBoxes', level=10, reference_size=256))
    assert only.magnitude == 48  # 120 * 256/640
    assert 'reference_size=256' in repr(only)
    cut = TRANSFORMS.build(
        dict(type='CutoutOnlyBBoxes', level=10, reference_size=256))
    assert cut.pad == 20  # int(50 * 256/640)


def _pipeline_outputs(op, seeds=range(8)):
    outs = []
    for seed in seeds:
        sample = random_results(
            seed=seed, height=90, width=120, masks='bitmap')
        np.random.seed(seed)
        outs.append(op(copy.deepcopy(sample)))
    return outs


def _assert_same(outs_a, outs_b):
    for a, b in zip(outs_a, outs_b):
        assert a['img'].tobytes() == b['img'].tobytes()
        np.testing.assert_array_equal(a['gt_bboxes'].tensor.numpy(),
                                      b['gt_bboxes'].tensor.numpy())


@pytest.mark.parametrize('policy', ['v0', 'v1', 'v2', 'v3'])
def test_default_none_is_the_release(policy):
    """reference_size None (the default) is byte-identical to the policy
    built without the key."""
    _assert_same(
        _pipeline_outputs(DetectionAutoAugment(policy=policy)),
        _pipeline_outputs(
            DetectionAutoAugment(policy=policy, reference_size=None)))
    ra = dict(magnitude=10, ops=OP_NAMES)
    _assert_same(
        _pipeline_outputs(DetectionRandAugment(**ra)),
        _pipeline_outputs(DetectionRandAugment(**ra, reference_size=None)))
    assert [
        TRANSFORMS.build(cfg).__dict__.get('magnitude')
        for cfg in map(lambda op: op_config(op, 1.0, 8), PIXEL_OPS[:4])
    ] == [200, 200, 96, 96]


@pytest.mark.parametrize('strength', ['s2', 's3', 's4', 's4-m15'])
def test_shapes_fragments_scale_to_256(strength):
    cfg = Config.fromfile(osp.join(FRAGMENTS, f'aug-{strength}.py'))
    kind = 'DetectionRandAugment' if 's4' in strength else \
        'DetectionAutoAugment'
    expected = dict(boxes=None, masks=None, shapes_boxes=256, shapes_masks=256)
    for variant, size in expected.items():
        (step, ) = [t for t in cfg.aug_pipelines[variant] if t.type == kind]
        assert step.reference_size == size, variant
        assert TRANSFORMS.build(copy.deepcopy(step)).reference_size == size
    assert cfg.aug_reference_size is None
    assert cfg.aug_shapes_reference_size == 256
