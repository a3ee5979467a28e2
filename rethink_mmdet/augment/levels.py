"""Magnitude levels of the detection AutoAugment operations.

Every operation takes an integer-or-float ``level``; this module is the one
place that maps it to pixels, degrees and factors, exactly as
``level_to_arg`` and its helpers in the released tensorflow/tpu
``models/official/detection/utils/autoaugment_utils.py`` do (Zoph et al.
2019, "Learning Data Augmentation Strategies for Object Detection"). The
constants are the released ``augmentation_hparams`` of
``distort_image_with_autoaugment``.

The released policies use levels 0..10 (``_MAX_LEVEL = 10``); levels above
10 follow the same linear formulas (EfficientDet's detection RandAugment runs
at magnitude 15). The random sign of the geometric ops
(``_randomly_negate_tensor``) is drawn by the transforms, not here.

Pixel magnitudes relative to the image. The released pixel constants
(translate 250 px, bbox-only translate 120 px, cutout 100 px, bbox-only
cutout 50 px) are for COCO-sized images (about 640 px on the long side,
before the scale jitter). The ops that take a pixel magnitude, and the
policies, have a ``reference_size`` key: None (default) keeps the released
constants and their rounding exactly; an int ``R`` multiplies the released
pixel magnitude by ``R / REFERENCE_SIZE`` (``R / 640``), so a miniature on
``R``-pixel images keeps the augmentation's strength relative to the image
(docs ``reference/papers.md`` §2, "In a miniature, pixel magnitudes must
scale with the image"). The scale applies to the released pixel result:
translate ``L/10 * const * R/640`` px (a float, no rounding, as released);
cutout pad ``int(int(L/10 * const) * R/640)`` -- the released ``int`` first,
then the scaled pad truncated again. Non-pixel magnitudes (shear, rotate,
bbox-cutout fraction, colour factors, solarize thresholds) never change.
"""
import math
from numbers import Integral, Real

# autoaugment_utils._MAX_LEVEL
MAX_LEVEL = 10.0

# autoaugment_utils.distort_image_with_autoaugment: augmentation_hparams
TRANSLATE_CONST = 250.0  # translate_const (TranslateX/Y_BBox)
TRANSLATE_BBOX_CONST = 120.0  # translate_bbox_const (Translate*_Only_BBoxes)
CUTOUT_CONST = 100  # cutout_const (Cutout)
CUTOUT_BBOX_CONST = 50  # cutout_bbox_const (Cutout_Only_BBoxes)
CUTOUT_MAX_PAD_FRACTION = 0.75  # cutout_max_pad_fraction (BBox_Cutout)
CUTOUT_BBOX_REPLACE_WITH_MEAN = False  # cutout_bbox_replace_with_mean
FILL_VALUE = 128  # build_and_apply_nas_policy: replace_value = [128] * 3
#: Image interpolation of the released geometric ops (``tf.contrib.image``
#: ``rotate`` / ``transform`` and the translate ops default to NEAREST).
INTERPOLATION = 'nearest'

# autoaugment_utils: _shear_level_to_arg, _rotate_level_to_arg
MAX_SHEAR = 0.3
MAX_ROTATE_DEGREES = 30.0
# autoaugment_utils.level_to_arg: Solarize / SolarizeAdd / Posterize
SOLARIZE_CONST = 256
SOLARIZE_ADD_CONST = 110
SOLARIZE_ADD_THRESHOLD = 128  # solarize_add(threshold=128)
POSTERIZE_CONST = 4

#: Image size (px) the released pixel constants are made for: COCO's
#: ~640 px long side (the TPU RetinaNet ``output_size`` [640, 640]).
REFERENCE_SIZE = 640


def check_level(level, owner='transform'):
    """Validate a magnitude level and return it as a float.

    Args:
        level (int | float): The level; 0..10 in the released policies,
            larger values extrapolate the same formulas.
        owner (str): Name used in the error message. Defaults to
            'transform'.

    Returns:
        float: ``level``.
    """
    if isinstance(level, bool) or not isinstance(level, Real):
        raise TypeError(f'{owner}: level must be an int or float (0..10 in '
                        f'the released policies), got {level!r}.')
    if not math.isfinite(level) or level < 0:
        raise ValueError(f'{owner}: level must be finite and >= 0, got '
                         f'{level}. Use 0..{int(MAX_LEVEL)} as in the '
                         'released policies, or more to extrapolate.')
    return float(level)


def check_reference_size(reference_size, owner='transform'):
    """Validate a ``reference_size`` (None or a positive int, pixels).

    Args:
        reference_size (int, optional): Size of the images the pixel
            magnitudes are for; None keeps the released constants.
        owner (str): Name used in the error message. Defaults to
            'transform'.

    Returns:
        int | None: ``reference_size``.
    """
    if reference_size is None:
        return None
    if isinstance(reference_size, bool) or \
            not isinstance(reference_size, Integral) or reference_size < 1:
        raise ValueError(
            f'{owner}: reference_size must be None (the released pixel '
            f'constants, made for {REFERENCE_SIZE} px images) or a positive '
            f'int, the image size in pixels to scale them to (e.g. 256 for '
            f'the 256x256 shapes images); got {reference_size!r}.')
    return int(reference_size)


def scale_pixels(pixels, reference_size=None):
    """A released pixel magnitude at ``reference_size``: ``pixels`` itself
    for None, else ``pixels * reference_size / 640`` (a float, unrounded;
    the multiplication comes first, so whole results are exact)."""
    if check_reference_size(reference_size, 'scale_pixels') is None:
        return pixels
    return pixels * reference_size / REFERENCE_SIZE


def translate_pixels(level, const=TRANSLATE_CONST, reference_size=None):
    """``_translate_level_to_arg``: ``level / 10 * const`` pixels, times
    ``reference_size / 640`` when ``reference_size`` is given.

    ``const`` is 250 for TranslateX/Y_BBox and 120 for the bbox-only
    translates (L4 -> 100 px, L2 -> 24 px of ``TRANSLATE_BBOX_CONST``; at
    ``reference_size=256``, L4 -> 40 px). Not rounded, as released.
    """
    pixels = check_level(level, 'translate') / MAX_LEVEL * float(const)
    return scale_pixels(pixels, reference_size)


def shear_factor(level):
    """``_shear_level_to_arg``: shear coefficient ``level / 10 * 0.3``."""
    return check_level(level, 'shear') / MAX_LEVEL * MAX_SHEAR


def rotate_degrees(level):
    """``_rotate_level_to_arg``: ``level / 10 * 30`` degrees."""
    return check_level(level, 'rotate') / MAX_LEVEL * MAX_ROTATE_DEGREES


def cutout_pad(level, const=CUTOUT_CONST, reference_size=None):
    """``level_to_arg['Cutout']``: pad size ``int(level / 10 * const)``.

    The hole is a square of side ``2 * pad`` (``cutout``). ``const`` is 100
    for Cutout and 50 (``CUTOUT_BBOX_CONST``) for Cutout_Only_BBoxes. With
    ``reference_size`` the released pad is scaled by ``reference_size /
    640`` and truncated again: ``int(int(L/10 * const) * R / 640)`` (L8 at
    256: 80 -> 32, a 64 px hole).
    """
    pad = int(check_level(level, 'cutout') / MAX_LEVEL * const)
    return int(scale_pixels(pad, reference_size))


def bbox_cutout_pad_fraction(level, max_fraction=CUTOUT_MAX_PAD_FRACTION):
    """``_bbox_cutout_level_to_arg``: ``level / 10 * 0.75``."""
    return check_level(level, 'bbox cutout') / MAX_LEVEL * max_fraction


def enhance_factor(level):
    """``_enhance_level_to_arg``: ``level / 10 * 1.8 + 0.1``.

    Used by Color, Contrast, Brightness and Sharpness (L6 -> 1.18).
    """
    return check_level(level, 'enhance') / MAX_LEVEL * 1.8 + 0.1


def solarize_threshold(level):
    """``level_to_arg['Solarize']``: ``int(level / 10 * 256)``."""
    return int(check_level(level, 'solarize') / MAX_LEVEL * SOLARIZE_CONST)


def solarize_addition(level):
    """``level_to_arg['SolarizeAdd']``: ``int(level / 10 * 110)``; added to
    pixels below ``SOLARIZE_ADD_THRESHOLD`` (128)."""
    return int(
        check_level(level, 'solarize add') / MAX_LEVEL * SOLARIZE_ADD_CONST)


def posterize_bits(level):
    """``level_to_arg['Posterize']``: ``int(level / 10 * 4)`` bits.

    Note the released mapping keeps ``int(level / 10 * 4)`` bits, so levels
    below 2.5 keep 0 bits (a black image), as in the released code.
    """
    return int(check_level(level, 'posterize') / MAX_LEVEL * POSTERIZE_CONST)


def check_probability(value, name, owner='transform'):
    """Validate a probability in [0, 1] and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, Real) or \
            not 0.0 <= value <= 1.0:
        raise ValueError(f'{owner}: {name} must be a number in [0, 1], got '
                         f'{value!r}.')
    return float(value)


def require_level(level, owner='transform'):
    """:func:`check_level` that also rejects a missing (None) level."""
    if level is None:
        raise TypeError(f'{owner}: level is required (0..{int(MAX_LEVEL)} '
                        'as in the released policies).')
    return check_level(level, owner)
