"""The ``*_BBox`` geometric ops of the released detection AutoAugment
(tensorflow/tpu ``autoaugment_utils.py``: ``translate_bbox``,
``shear_with_bboxes``, ``rotate_with_bboxes``): image, boxes, instance masks
and semantic map move by one affine map.

How they differ from mmdet's ``TranslateX`` / ``ShearX`` / ``Rotate``
(``mmdet/datasets/transforms/geometric.py``):

- magnitudes are the released ones (translate ``L/10*250`` px, not a
  fraction of the image width; shear coefficient ``L/10*0.3``, not
  ``tan(L/10*30 deg)``) and levels above 10 are accepted;
- boxes that leave the image are clipped and boxes (or masks) that become
  empty are dropped together with their label / ignore / mask / score rows
  (mmdet keeps zero-area boxes; the released code widens them to 5% of the
  image, which invents a box where there is no object);
- the released code truncates box corners to whole pixels before and after
  the transform; here they are transformed in floating point;
- boxes and polygons use the continuous-coordinate version of the image's
  index-coordinate matrix (mmdet rotates boxes about a centre half a pixel
  off the image's); polygons are clipped to the image (Sutherland-Hodgman)
  rather than having their vertices clamped.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import autocast_box_type
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from . import levels
from .affine import (REFERENCE_SIZE_DOC, RotateOp, ShearOp, TranslateOp,
                     WarpArgs, bitmap_boxes, corner_boxes, homography,
                     to_continuous, transform_polygons, warp, warp_masks)
from .instances import (MASKS_KEY, REQUIRED_KEYS_DOC, box_array,
                        check_instances, clip_and_drop)

_COMMON_DOC = REQUIRED_KEYS_DOC + """
    Modified Keys:

    - img
    - gt_bboxes, and the rows of the other per-box keys
    - gt_masks
    - gt_seg_map

    Added Keys:

    - homography_matrix

    Args:
        prob (float): Probability of applying the op. Defaults to 1.0.
        level (int | float): Magnitude level, 0..10 in the released
            policies; larger levels extrapolate. Required.
        img_border_value (int | float | tuple): Fill of the vacated image
            pixels. Defaults to 128 (the released ``replace``).
        mask_border_value (int): Fill of vacated mask pixels. Defaults to 0.
        seg_ignore_label (int): Fill of the vacated semantic map pixels.
            Defaults to 255.
        reversal_prob (float): Probability of negating the magnitude (the
            released ``_randomly_negate_tensor``). Defaults to 0.5.
        interpolation (str): cv2 interpolation of image and bitmap masks
            as the released TF ops. Defaults to 'nearest'.
        recompute_bbox (bool): False: each box becomes the enclosing box of
            its transformed corners (released behaviour). True: with
            ``gt_masks``, each box becomes the tight box of its transformed
            mask. Defaults to False.
        min_size (float): Boxes whose clipped width or height is not larger
            than this are dropped with all their rows; with ``gt_masks``, so
            is every instance whose mask became empty. Defaults to 0.0.
"""


def _with_common_doc(cls):
    """Append the shared Keys / Args sections to the class docstring."""
    cls.__doc__ = cls.__doc__.rstrip() + '\n' + _COMMON_DOC
    return cls


def _with_reference_size_doc(cls):
    """Append the ``reference_size`` argument (the translate ops)."""
    cls.__doc__ = cls.__doc__.rstrip() + '\n' + REFERENCE_SIZE_DOC
    return cls


@_with_common_doc
class BBoxAffineTransform(WarpArgs, BaseTransform):
    """Base of the ``*_BBox`` ops: draws apply / sign, warps the image and
    semantic map (one ``cv2.warpAffine`` each, slicing for whole-pixel
    shifts), the bitmap masks (one 2-D warp per mask) or polygons, moves the
    boxes, clips them and drops empty ones. Subclasses mix in ``TranslateOp``
    / ``ShearOp`` / ``RotateOp`` (:mod:`.affine`) for the magnitude and the
    index-coordinate matrix."""

    def __init__(self,
                 prob=1.0,
                 level=None,
                 img_border_value=levels.FILL_VALUE,
                 mask_border_value=0,
                 seg_ignore_label=255,
                 reversal_prob=0.5,
                 interpolation=levels.INTERPOLATION,
                 recompute_bbox=False,
                 min_size=0.0):
        name = type(self).__name__
        self.prob = levels.check_probability(prob, 'prob', name)
        self.level = level
        self.magnitude = self._magnitude(levels.require_level(level, name))
        self._init_warp_args(img_border_value, mask_border_value,
                             seg_ignore_label, reversal_prob, interpolation)
        self.recompute_bbox = bool(recompute_bbox)
        self.min_size = float(min_size)

    def _magnitude(self, level):
        """Unsigned magnitude of ``level`` (see :mod:`.levels`); given by
        the ``TranslateOp`` / ``ShearOp`` / ``RotateOp`` mixins."""
        raise NotImplementedError

    def _matrix(self, signed, height, width):
        """Index-coordinate 2x3 matrix for the signed magnitude."""
        raise NotImplementedError

    @cache_randomness
    def _draw(self):
        """Whether to apply, and the sign of the magnitude."""
        apply, negate = np.random.rand(2) < (self.prob, self.reversal_prob)
        return bool(apply), -1.0 if negate else 1.0

    @autocast_box_type()
    def transform(self, results):
        """Warp image, masks, semantic map and boxes of ``results``."""
        check_instances(results)
        apply, sign = self._draw()
        if not apply:
            return results
        img = results['img']
        height, width = img.shape[:2]
        matrix = self._matrix(sign * self.magnitude, height, width)
        cont = to_continuous(matrix)
        results['img'] = warp(img, matrix, self.interpolation,
                              self.img_border_value)
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = warp(results['gt_seg_map'], matrix,
                                         'nearest', self.seg_ignore_label)
        mask_boxes, nonempty = self._warp_masks(results, matrix, cont)
        if results.get('gt_bboxes') is not None:
            if self.recompute_bbox and mask_boxes is not None:
                new_boxes = mask_boxes
            else:
                new_boxes = corner_boxes(box_array(results), cont)
            clip_and_drop(results, self.min_size, nonempty, (height, width),
                          new_boxes)
        new = homography(cont)
        old = results.get('homography_matrix')
        results['homography_matrix'] = new if old is None else new @ old
        return results

    def _warp_masks(self, results, matrix, cont):
        """Warp ``gt_masks``; return their tight boxes (only when
        ``recompute_bbox``) and which masks are still non-empty."""
        masks = results.get(MASKS_KEY)
        if masks is None:
            return None, None
        height, width = results['img'].shape[:2]
        if isinstance(masks, BitmapMasks):
            new = warp_masks(masks.masks, matrix, self.interpolation,
                             self.mask_border_value)
            results[MASKS_KEY] = BitmapMasks(new, height, width)
            if self.recompute_bbox:
                return bitmap_boxes(new)
            return None, new.any(axis=(1, 2))
        if isinstance(masks, PolygonMasks):
            polys, boxes, nonempty = transform_polygons(
                masks.masks, cont, height, width)
            results[MASKS_KEY] = PolygonMasks(polys, height, width)
            return (boxes if self.recompute_bbox else None), nonempty
        raise TypeError(f'{type(self).__name__}: gt_masks must be '
                        f'BitmapMasks or PolygonMasks, got {type(masks)}.')

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level}, {self._warp_args_repr()}, '
                f'recompute_bbox={self.recompute_bbox}, '
                f'min_size={self.min_size})')


@TRANSFORMS.register_module()
@_with_reference_size_doc
@_with_common_doc
class TranslateXBBox(TranslateOp, BBoxAffineTransform):
    """TranslateX_BBox (released ``translate_bbox``, ``shift_horizontal``):
    shift image and boxes horizontally by ``L/10*250`` px (L4 = 100 px;
    times ``reference_size / 640`` when given: L4 = 40 px at 256), sign
    random; content moves by ``-m`` for the signed magnitude ``m`` as in
    ``translate_x``. mmdet's ``TranslateX`` shifts by ``L/10*0.1`` of the
    image width instead and never drops boxes."""

    horizontal = True


@TRANSFORMS.register_module()
@_with_reference_size_doc
@_with_common_doc
class TranslateYBBox(TranslateXBBox):
    """TranslateY_BBox (released ``translate_bbox``): the vertical version
    of :class:`TranslateXBBox` (``L/10*250`` px). mmdet's ``TranslateY``
    shifts by ``L/10*0.1`` of the image height."""

    horizontal = False


@TRANSFORMS.register_module()
@_with_common_doc
class ShearXBBox(ShearOp, BBoxAffineTransform):
    """ShearX_BBox (released ``shear_with_bboxes``, ``shear_horizontal``):
    ``x' = x - m * y`` about the top-left pixel with ``m = L/10*0.3`` and a
    random sign; boxes become the enclosing box of their sheared corners.
    mmdet's ``ShearX`` uses ``m = tan(L/10*30 deg)`` (0.58 at L10, not 0.3)
    and keeps empty boxes."""

    horizontal = True


@TRANSFORMS.register_module()
@_with_common_doc
class ShearYBBox(ShearXBBox):
    """ShearY_BBox (released ``shear_with_bboxes``): ``y' = y - m * x``,
    the vertical version of :class:`ShearXBBox`. mmdet's ``ShearY`` uses
    ``tan(L/10*30 deg)``."""

    horizontal = False


@TRANSFORMS.register_module()
@_with_common_doc
class RotateBBox(RotateOp, BBoxAffineTransform):
    """Rotate_BBox (released ``rotate_with_bboxes`` / ``_rotate_bbox``):
    rotate by ``L/10*30`` degrees (random sign; positive is
    counter-clockwise, as ``tf.contrib.image.rotate``) about the image
    centre; each box becomes the enclosing box of its rotated corners. The
    angle is the same as mmdet's ``Rotate``; mmdet rotates its boxes about a
    point half a pixel off the image's centre and keeps empty boxes."""
