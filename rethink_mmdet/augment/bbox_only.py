"""The ``*_Only_BBoxes`` ops of the released detection AutoAugment
(tensorflow/tpu ``autoaugment_utils.py``: ``_apply_multi_bbox_augmentation``
and ``rotate_only_bboxes``, ``translate_x_only_bboxes``, ...). No mmdet or
Detectron2 release has them.

Released semantics, kept here: the boxes are visited in a random order
(``tf.random.shuffle``), and each box, independently with probability
``prob / 3`` (``_scale_bbox_only_op_probability``), gets the op applied to
the pixel crop ``img[int(y1):min(int(y2), h - 1) + 1, int(x1):min(int(x2),
w - 1) + 1]`` (``_apply_bbox_augmentation``) -- so overlapping boxes
compound. The op-level probability is always 1 (``_apply_func_with_prob``);
``prob`` is the per-box base probability. The boxes themselves never change.
The random sign of a geometric op is drawn once per image and shared by all
its boxes, as the released graph does.

Masks: for the ops that move pixels (translate, shear, rotate, flip) every
instance mask and the semantic map get the same op on the same crop, so mask
pixels inside a box move with the image pixels (``PolygonMasks`` are
rasterised to ``BitmapMasks`` when a box is changed: a polygon cannot be cut
at the box edge). Colour, equalize, solarize and cutout ops leave masks
unchanged, as the released code leaves boxes unchanged.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from . import levels
from .affine import (REFERENCE_SIZE_DOC, RotateOp, ShearOp, TranslateOp,
                     WarpArgs, warp)
from .instances import MASKS_KEY, box_array, check_instances

#: autoaugment_utils._scale_bbox_only_op_probability: prob / 3.0
BBOX_ONLY_PROB_DIVISOR = 3.0

_KEYS_DOC = """
    Required Keys:

    - img (np.uint8)
    - gt_bboxes (BaseBoxes[torch.float32]) (optional; without boxes the op
      does nothing)
    - gt_masks (BitmapMasks | PolygonMasks) (optional)
    - gt_seg_map (np.uint8) (optional)

    Modified Keys:

    - img
    {modified}
    Args:
        prob (float): Base probability; each box gets the op with
            probability ``prob / 3``. Defaults to 1.0.
        level (int | float): Magnitude level (0..10 in the released
            policies; larger levels extrapolate). {level_note}
"""
_UNCHANGED = """- nothing else: boxes, masks and semantic map are unchanged
"""
_MOVES_MODIFIED = """- gt_masks (pixels inside a changed box move with the
      image; PolygonMasks become BitmapMasks when a box is changed)
    - gt_seg_map
"""
_GEOMETRIC_ARGS = """\
        img_border_value (int | float | tuple): Fill of vacated pixels in a
            box. Defaults to 128.
        mask_border_value (int): Fill of vacated mask pixels. Defaults to 0.
        seg_ignore_label (int): Fill of vacated semantic map pixels.
            Defaults to 255.
        reversal_prob (float): Probability of negating the magnitude (once
            per image). Defaults to 0.5.
        interpolation (str): cv2 interpolation, as the released ops.
            Defaults to 'nearest'.
"""
UNUSED_LEVEL_DOC = """Unused (the released op has no
            magnitude). Defaults to None."""
ENHANCE_LEVEL_DOC = """Factor ``L/10*1.8 + 0.1``.
            Required."""


def bbox_only_doc(modified=_UNCHANGED, level_note='Required.', extra_args=''):
    """Class decorator appending the shared Keys / Args sections."""

    def decorate(cls):
        cls.__doc__ = cls.__doc__.rstrip() + '\n' + _KEYS_DOC.format(
            modified=modified, level_note=level_note) + extra_args
        return cls

    return decorate


def crop_bounds(boxes, height, width):
    """Inclusive pixel bounds ``(y0, y1, x0, x1)`` of each box, computed as
    ``_apply_bbox_augmentation`` does (floor, max clipped to the image)."""
    boxes = np.nan_to_num(boxes)
    x0 = np.floor(boxes[:, 0].clip(0, width)).astype(int)
    y0 = np.floor(boxes[:, 1].clip(0, height)).astype(int)
    x1 = np.minimum(np.floor(boxes[:, 2].clip(0, width)), width - 1)
    y1 = np.minimum(np.floor(boxes[:, 3].clip(0, height)), height - 1)
    return np.stack([y0, y1.astype(int), x0, x1.astype(int)], axis=1)


@bbox_only_doc(level_note='Defaults to None.')
class BBoxOnlyTransform(BaseTransform):
    """Base of the bbox-only ops: per-box draws, crop, op, paste back.
    Subclasses implement :meth:`_crop_op`; ``moves_pixels`` says whether
    masks and the semantic map get the op too."""

    moves_pixels = False

    def __init__(self, prob=1.0, level=None):
        name = type(self).__name__
        self.prob = levels.check_probability(prob, 'prob', name)
        self.level = level
        if level is not None:
            levels.check_level(level, name)
        self.box_prob = self.prob / BBOX_ONLY_PROB_DIVISOR

    @cache_randomness
    def _draw(self, num_boxes):
        """Visiting order, per-visit apply flags and per-visit uniforms
        (used by ops with a random location), plus one random sign."""
        order = np.random.permutation(num_boxes)
        apply = np.random.rand(num_boxes) < self.box_prob
        uniforms = np.random.rand(num_boxes, 2)
        negate = np.random.rand() < getattr(self, 'reversal_prob', 0.0)
        return order, apply, uniforms, -1.0 if negate else 1.0

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        """Return the op applied to an ``(h, w[, c])`` crop."""
        raise NotImplementedError

    def transform(self, results):
        """Apply the op inside each selected box of ``results``."""
        num = check_instances(results)
        if not num:
            return results
        order, apply, uniforms, sign = self._draw(num)
        if not apply.any():
            return results
        img = results['img'].copy()
        height, width = img.shape[:2]
        bounds = crop_bounds(box_array(results), height, width)
        stacks = self._pixel_stacks(results, height, width)
        for visit in np.flatnonzero(apply):
            y0, y1, x0, x1 = bounds[order[visit]]
            if y1 < y0 or x1 < x0:
                continue
            region = (slice(y0, y1 + 1), slice(x0, x1 + 1))
            img[region] = self._crop_op(img[region], uniforms[visit], sign,
                                        self._fill('img'),
                                        getattr(self, 'interpolation', None))
            for key, stack in stacks.items():
                interp = 'nearest' if key == 'gt_seg_map' else getattr(
                    self, 'interpolation', None)
                stack[region] = self._crop_op(stack[region], uniforms[visit],
                                              sign, self._fill(key), interp)
        results['img'] = img
        for key, stack in stacks.items():
            results[key] = stack if key == 'gt_seg_map' else BitmapMasks(
                np.ascontiguousarray(stack.transpose(2, 0, 1)), height, width)
        return results

    def _pixel_stacks(self, results, height, width):
        """Writable ``(H, W, N)`` copies of the masks and the semantic map
        that follow the op (only when it moves pixels)."""
        stacks = {}
        if not self.moves_pixels:
            return stacks
        masks = results.get(MASKS_KEY)
        if isinstance(masks, PolygonMasks):
            masks = masks.to_bitmap()
        if masks is not None and len(masks):
            if not isinstance(masks, BitmapMasks):
                raise TypeError(f'{type(self).__name__}: gt_masks must be '
                                'BitmapMasks or PolygonMasks, got '
                                f'{type(masks)}.')
            stacks[MASKS_KEY] = masks.masks.transpose(1, 2, 0).astype(
                np.uint8)  # always a copy
        if results.get('gt_seg_map') is not None:
            stacks['gt_seg_map'] = results['gt_seg_map'].copy()
        return stacks

    def _fill(self, key):
        """Fill value of vacated pixels for ``img`` / masks / seg map."""
        return {
            'img': getattr(self, 'img_border_value', levels.FILL_VALUE),
            MASKS_KEY: getattr(self, 'mask_border_value', 0),
            'gt_seg_map': getattr(self, 'seg_ignore_label', 255),
        }[key]

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level})')


@bbox_only_doc(_MOVES_MODIFIED, extra_args=_GEOMETRIC_ARGS)
class GeometricOnlyBBoxes(WarpArgs, BBoxOnlyTransform):
    """Base of the bbox-only affine ops: the crop is warped with the
    released op's matrix built for the crop's own size. Subclasses mix in
    ``TranslateOp`` / ``ShearOp`` / ``RotateOp`` (:mod:`.affine`) for the
    magnitude and the matrix."""

    moves_pixels = True

    def __init__(self,
                 prob=1.0,
                 level=None,
                 img_border_value=levels.FILL_VALUE,
                 mask_border_value=0,
                 seg_ignore_label=255,
                 reversal_prob=0.5,
                 interpolation=levels.INTERPOLATION):
        super().__init__(prob, level)
        self.magnitude = self._magnitude(
            levels.require_level(level,
                                 type(self).__name__))
        self._init_warp_args(img_border_value, mask_border_value,
                             seg_ignore_label, reversal_prob, interpolation)

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        matrix = self._matrix(sign * self.magnitude, *crop.shape[:2])
        if crop.ndim == 3 and crop.shape[2] != 3:
            fill = fill if np.isscalar(fill) else fill[0]
        return warp(crop, matrix, interpolation, fill)

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level}, {self._warp_args_repr()})')


@TRANSFORMS.register_module()
@bbox_only_doc(
    _MOVES_MODIFIED, extra_args=_GEOMETRIC_ARGS + REFERENCE_SIZE_DOC)
class TranslateXOnlyBBoxes(TranslateOp, GeometricOnlyBBoxes):
    """TranslateX_Only_BBoxes (released ``translate_x_only_bboxes``): the
    content of each selected box moves horizontally by ``L/10*120`` px
    (``translate_bbox_const``; times ``reference_size / 640`` when given;
    sign random, content moves by ``-m`` as in ``translate_x``); pixels
    leaving the box are lost, vacated ones filled with 128."""

    horizontal = True
    translate_const = levels.TRANSLATE_BBOX_CONST


@TRANSFORMS.register_module()
@bbox_only_doc(
    _MOVES_MODIFIED, extra_args=_GEOMETRIC_ARGS + REFERENCE_SIZE_DOC)
class TranslateYOnlyBBoxes(TranslateXOnlyBBoxes):
    """TranslateY_Only_BBoxes (released ``translate_y_only_bboxes``): the
    vertical version of :class:`TranslateXOnlyBBoxes` (``L/10*120`` px; L2
    = 24 px, L6 = 72 px)."""

    horizontal = False


@TRANSFORMS.register_module()
@bbox_only_doc(_MOVES_MODIFIED, extra_args=_GEOMETRIC_ARGS)
class ShearXOnlyBBoxes(ShearOp, GeometricOnlyBBoxes):
    """ShearX_Only_BBoxes (released ``shear_x_only_bboxes``): each selected
    crop is sheared ``x' = x - m * y`` about its own top-left pixel,
    ``m = L/10*0.3`` with a random sign."""

    horizontal = True


@TRANSFORMS.register_module()
@bbox_only_doc(_MOVES_MODIFIED, extra_args=_GEOMETRIC_ARGS)
class ShearYOnlyBBoxes(ShearXOnlyBBoxes):
    """ShearY_Only_BBoxes (released ``shear_y_only_bboxes``): ``y' = y - m *
    x`` inside each selected crop, ``m = L/10*0.3``."""

    horizontal = False


@TRANSFORMS.register_module()
@bbox_only_doc(_MOVES_MODIFIED, extra_args=_GEOMETRIC_ARGS)
class RotateOnlyBBoxes(RotateOp, GeometricOnlyBBoxes):
    """Rotate_Only_BBoxes (released ``rotate_only_bboxes``): each selected
    crop is rotated by ``L/10*30`` degrees (random sign, positive is
    counter-clockwise) about the crop's centre; corners leaving the crop are
    lost, vacated pixels filled with 128."""


@TRANSFORMS.register_module()
@bbox_only_doc(_MOVES_MODIFIED, level_note=UNUSED_LEVEL_DOC)
class FlipOnlyBBoxes(BBoxOnlyTransform):
    """Flip_Only_BBoxes (released ``flip_only_bboxes``): each selected crop
    is mirrored left-right (``tf.image.flip_left_right``)."""

    moves_pixels = True

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        return crop[:, ::-1]
