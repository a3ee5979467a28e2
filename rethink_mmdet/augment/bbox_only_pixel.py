"""The pixel ``*_Only_BBoxes`` ops of the released detection AutoAugment
(tensorflow/tpu ``autoaugment_utils.py``: ``equalize_only_bboxes``,
``solarize_only_bboxes``, ``cutout_only_bboxes`` and the enhance ops):
each changes the pixels of the selected boxes' crops only, leaving boxes
and masks unchanged, as the released code does (the selection and its
probability: :class:`~.bbox_only.BBoxOnlyTransform`).
"""
import mmcv

from mmdet.registry import TRANSFORMS
from . import colour, levels
from .affine import REFERENCE_SIZE_DOC
from .bbox_only import (ENHANCE_LEVEL_DOC, UNUSED_LEVEL_DOC, BBoxOnlyTransform,
                        bbox_only_doc)
from .cutout import cutout_slices, uniform_centre

__all__ = [
    'EqualizeOnlyBBoxes', 'SolarizeOnlyBBoxes', 'CutoutOnlyBBoxes',
    'EnhanceOnlyBBoxes', 'ColorOnlyBBoxes', 'BrightnessOnlyBBoxes',
    'ContrastOnlyBBoxes', 'SharpnessOnlyBBoxes'
]


@TRANSFORMS.register_module()
@bbox_only_doc(level_note=UNUSED_LEVEL_DOC)
class EqualizeOnlyBBoxes(BBoxOnlyTransform):
    """Equalize_Only_BBoxes (released ``equalize_only_bboxes``): histogram
    equalization of each selected crop on its own histogram
    (``mmcv.imequalize`` computes the released ``equalize``)."""

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        return mmcv.imequalize(crop)


@TRANSFORMS.register_module()
@bbox_only_doc(
    level_note='Threshold ``int(L/10*256)``. Required.',
    extra_args="""\
        threshold_overflow (str): How a threshold above 255 is read:
            'wrap' is the released arithmetic (converted to uint8, modulo
            256: level 10 inverts every pixel of the box, level 15 those
            >= 128); 'clip' changes no pixel above 255. Defaults to 'wrap'.
""")
class SolarizeOnlyBBoxes(BBoxOnlyTransform):
    """Solarize_Only_BBoxes (released ``solarize_only_bboxes``): pixels of
    each selected crop at or above the threshold are inverted, with the
    released ``solarize`` and its uint8 threshold (see
    :mod:`rethink_mmdet.augment.colour`)."""

    def __init__(self,
                 prob=1.0,
                 level=None,
                 threshold_overflow=colour.RELEASED_THRESHOLD_OVERFLOW):
        super().__init__(prob, level)
        self.threshold_overflow = colour.check_threshold_overflow(
            threshold_overflow,
            type(self).__name__)
        self.threshold = colour.solarize_threshold(
            levels.solarize_threshold(
                levels.require_level(level,
                                     type(self).__name__)),
            self.threshold_overflow)

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        return colour.solarize(crop, self.threshold)

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level}, '
                f'threshold_overflow={self.threshold_overflow!r})')


@TRANSFORMS.register_module()
@bbox_only_doc(
    level_note='Pad ``int(L/10*50)``.\n            Required.',
    extra_args="""\
        fill_in (int | tuple): Fill of the hole. Defaults to 128.
""" + REFERENCE_SIZE_DOC)
class CutoutOnlyBBoxes(BBoxOnlyTransform):
    """Cutout_Only_BBoxes (released ``cutout_only_bboxes``): the released
    ``cutout`` inside each selected crop -- a square of side ``2 * pad``,
    ``pad = int(L/10*50)`` (``cutout_bbox_const``; with ``reference_size``
    ``int(pad * reference_size / 640)``), centred uniformly at random in the
    crop and clipped to it."""

    def __init__(self,
                 prob=1.0,
                 level=None,
                 fill_in=levels.FILL_VALUE,
                 reference_size=None):
        super().__init__(prob, level)
        name = type(self).__name__
        self.reference_size = levels.check_reference_size(reference_size, name)
        self.pad = levels.cutout_pad(
            levels.require_level(level, name), levels.CUTOUT_BBOX_CONST,
            self.reference_size)
        self.fill_in = fill_in

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        out = crop.copy()
        hole = cutout_slices(crop.shape, uniform_centre(crop.shape, uniform),
                             self.pad)
        out[hole] = self.fill_in
        return out

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level}, fill_in={self.fill_in}, '
                f'reference_size={self.reference_size})')


@bbox_only_doc(level_note=ENHANCE_LEVEL_DOC)
class EnhanceOnlyBBoxes(BBoxOnlyTransform):
    """Base of the colour ops inside boxes: ``enhance`` (an mmcv function
    ``f(img, factor)``) applied to each selected crop with the released
    enhance factor. These four are not in the released ``NAME_TO_FUNC``
    (which has only the geometric, flip, equalize, solarize and cutout
    bbox-only ops); they use the same per-box rule."""

    enhance = None

    def __init__(self, prob=1.0, level=None):
        super().__init__(prob, level)
        self.factor = levels.enhance_factor(
            levels.require_level(level,
                                 type(self).__name__))

    def _crop_op(self, crop, uniform, sign, fill, interpolation):
        return type(self).enhance(crop, self.factor)


@TRANSFORMS.register_module()
@bbox_only_doc(level_note=ENHANCE_LEVEL_DOC)
class ColorOnlyBBoxes(EnhanceOnlyBBoxes):
    """Color inside each selected box: blend with the crop's grey image
    (``mmcv.adjust_color``; the released ``color`` truncates where cv2
    rounds)."""

    enhance = staticmethod(mmcv.adjust_color)


@TRANSFORMS.register_module()
@bbox_only_doc(level_note=ENHANCE_LEVEL_DOC)
class BrightnessOnlyBBoxes(EnhanceOnlyBBoxes):
    """Brightness inside each selected box: blend with black
    (``mmcv.adjust_brightness`` = the released ``brightness``)."""

    enhance = staticmethod(mmcv.adjust_brightness)


@TRANSFORMS.register_module()
@bbox_only_doc(level_note=ENHANCE_LEVEL_DOC)
class ContrastOnlyBBoxes(EnhanceOnlyBBoxes):
    """Contrast inside each selected box: blend with the crop's mean grey
    value (``mmcv.adjust_contrast``, PIL's rule; the released ``contrast``
    blends with ``num_pixels / 256`` instead of the mean)."""

    enhance = staticmethod(mmcv.adjust_contrast)


@TRANSFORMS.register_module()
@bbox_only_doc(level_note=ENHANCE_LEVEL_DOC)
class SharpnessOnlyBBoxes(EnhanceOnlyBBoxes):
    """Sharpness inside each selected box: blend with PIL's SMOOTH-filtered
    crop (``mmcv.adjust_sharpness``; the released ``sharpness`` keeps the
    one-pixel border unfiltered where cv2 reflects)."""

    enhance = staticmethod(mmcv.adjust_sharpness)
