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
"""
import math
from numbers import Real

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


def translate_pixels(level, const=TRANSLATE_CONST):
    """``_translate_level_to_arg``: ``level / 10 * const`` pixels.

    ``const`` is 250 for TranslateX/Y_BBox and 120 for the bbox-only
    translates (L4 -> 100 px, L2 -> 24 px of ``TRANSLATE_BBOX_CONST``).
    """
    return check_level(level, 'translate') / MAX_LEVEL * float(const)


def shear_factor(level):
    """``_shear_level_to_arg``: shear coefficient ``level / 10 * 0.3``."""
    return check_level(level, 'shear') / MAX_LEVEL * MAX_SHEAR


def rotate_degrees(level):
    """``_rotate_level_to_arg``: ``level / 10 * 30`` degrees."""
    return check_level(level, 'rotate') / MAX_LEVEL * MAX_ROTATE_DEGREES


def cutout_pad(level, const=CUTOUT_CONST):
    """``level_to_arg['Cutout']``: pad size ``int(level / 10 * const)``.

    The hole is a square of side ``2 * pad`` (``cutout``). ``const`` is 100
    for Cutout and 50 (``CUTOUT_BBOX_CONST``) for Cutout_Only_BBoxes.
    """
    return int(check_level(level, 'cutout') / MAX_LEVEL * const)


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
