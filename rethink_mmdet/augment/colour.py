"""Whole-image colour ops of the released detection AutoAugment whose mmdet
counterpart does not compute what the released code computes.

The released ops (tensorflow/tpu ``models/official/detection/utils/
autoaugment_utils.py``; the same functions in google/automl
``efficientdet/aug/autoaugment.py``) against mmdet 3.3
(``mmdet/datasets/transforms/colorspace.py``):

======================  ====================================================
op                      mmdet's transform
======================  ====================================================
Equalize                same arithmetic: mmdet's ``Equalize`` is used as it
                        is.
AutoContrast            mmdet's ``AutoContrast`` is used as it is; it differs
                        from the release by one grey level on some pixels
                        (float64 against float32, below).
Posterize               same arithmetic, but mmdet takes ``ceil`` bits (L4:
                        2 instead of 1): used with the exact released
                        magnitude passed as ``max_mag`` at ``level=10`` (see
                        :mod:`.policies`).
Solarize                mmdet rounds the threshold to 0.1 (L3: 76.8 instead
                        of 76) and caps it at 256, where the release wraps it
                        (below): ours, :class:`TFSolarize`.
Color, Contrast,        magnitude rounded to 0.1 (Color L6: 1.2 instead of
Brightness, Sharpness   1.18) and capped at 2.0 (RandAugment M15: 2.8);
                        Color/Sharpness round where TF truncates; Contrast
                        blends with the mean grey level where TF blends with
                        ``num_pixels / 256`` (below): ours, here.
SolarizeAdd             same arithmetic, addition capped at 110 (RandAugment
                        M15 adds 165): ours, here.
======================  ====================================================

**Solarize above 255.** The released ``solarize(image, threshold)`` is
``tf.where(image < threshold, image, 255 - image)`` with ``image`` uint8 and
``threshold`` the Python int ``int(level / 10 * 256)``; TF converts the
threshold to the image's dtype, uint8, which keeps it modulo 256. So level 10
(threshold 256) compares with 0 and inverts **every** pixel, and level 15
(384, EfficientDet's RandAugment magnitude) compares with 128 and inverts the
pixels >= 128. ``threshold_overflow='wrap'`` (the default of
:class:`TFSolarize`, :class:`~.bbox_only.SolarizeOnlyBBoxes` and the policy
transforms) reproduces this; ``'clip'`` reads the threshold as a number
instead, so a threshold above 255 changes no pixel (mmdet's ``Solarize``
with its 256 cap). Levels below 10 are the same either way.

**AutoContrast.** Both map each channel by ``v * s + o``, ``s = 255 / (hi
- lo)``, ``o = -lo * s`` (``lo``, ``hi`` the channel's min and max), clip to
[0, 255] and truncate to uint8; the release computes in float32
(``tf.to_float``), mmcv's ``auto_contrast`` in float64. The results are
identical except where the exact value ``(v - lo) * 255 / (hi - lo)`` is a
whole number: there one of the two can land just below it and truncate one
grey level lower, in either direction. Over every ``(lo, hi, v)`` with
``0 <= lo <= v <= hi <= 255``, ``lo < hi`` (2,828,800 triples, 190,950 of
them whole) they differ on 21,325: ours is 1 higher on 11,094 (``lo=0,
hi=7``: the release maps 7 to 254, from 254.99998 in float32; ours to 255)
and 1 lower on 10,231 (``lo=0, hi=25``: ours maps 25 to 254, from
254.99999999999997 in float64; the release to 255). Computed with NumPy
float32 arithmetic standing in for TF's CPU kernels (one rounding per
operation).

Images are BGR ``uint8``, as mmdet's ``LoadImageFromFile`` gives them (the
grey weights are applied in that order); boxes and masks are unchanged.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS
from . import levels

#: tf.image.rgb_to_grayscale weights, in BGR order.
GREY_WEIGHTS_BGR = np.array([0.1140, 0.5870, 0.2989], dtype=np.float32)
#: autoaugment_utils.sharpness: PIL's SMOOTH kernel (sum 13).
SMOOTH_KERNEL = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32)


def blend(degenerate, image, factor):
    """``autoaugment_utils.blend``: ``degenerate + factor * (image -
    degenerate)`` in float32, truncated to uint8 (clipped to [0, 255] first
    when ``factor`` extrapolates, i.e. is not in (0, 1))."""
    if factor == 0.0:
        return np.array(degenerate, dtype=np.uint8)
    if factor == 1.0:
        return np.array(image, dtype=np.uint8)
    low = degenerate.astype(np.float32)
    temp = low + np.float32(factor) * (image.astype(np.float32) - low)
    if not 0.0 < factor < 1.0:
        temp = np.clip(temp, 0.0, 255.0)
    return temp.astype(np.uint8)


def grey(img):
    """``tf.image.rgb_to_grayscale`` of a BGR uint8 image: weights on
    ``img / 255`` in float32, back to uint8 by ``int(x * 255.5)``
    (``convert_image_dtype``); shape ``(h, w)``."""
    flt = img.astype(np.float32) * np.float32(1.0 / 255.0)
    return (flt @ GREY_WEIGHTS_BGR * np.float32(255.5)).astype(np.uint8)


#: ``threshold_overflow`` of the Solarize ops: ``'wrap'`` (the release's
#: uint8 conversion, threshold modulo 256) or ``'clip'`` (a threshold above
#: 255 changes no pixel).
THRESHOLD_OVERFLOWS = ('wrap', 'clip')
#: The default: the released arithmetic.
RELEASED_THRESHOLD_OVERFLOW = 'wrap'


def check_threshold_overflow(value, owner, key='threshold_overflow'):
    """Validate a ``threshold_overflow`` key (named ``key`` in ``owner``'s
    config) and return it."""
    if value not in THRESHOLD_OVERFLOWS:
        raise ValueError(
            f'{owner}: {key}={value!r}; use \'wrap\' (the '
            'released Solarize: the threshold converted to uint8, modulo '
            '256, so level 10 inverts every pixel) or \'clip\' (a threshold '
            'above 255 changes no pixel).')
    return value


def solarize_threshold(threshold, overflow=RELEASED_THRESHOLD_OVERFLOW):
    """The threshold the released ``solarize`` compares uint8 pixels with.

    Args:
        threshold (int): ``int(level / 10 * 256)`` (:mod:`.levels`).
        overflow (str): ``'wrap'``: converted to uint8 as the release does,
            ``threshold % 256`` (256 -> 0, 384 -> 128). ``'clip'``:
            ``min(threshold, 256)``, above 255 no pixel changes. Defaults to
            'wrap'.

    Returns:
        int: The effective threshold, in 0..256.
    """
    threshold = int(threshold)
    if overflow == 'wrap':
        return threshold % 256
    return min(threshold, 256)


def solarize(img, threshold):
    """Released ``solarize`` of a uint8 image with an effective threshold
    (:func:`solarize_threshold`): pixels ``>= threshold`` become ``255 -
    v``."""
    return np.where(img < threshold, img, 255 - img).astype(np.uint8)


class TFColourTransform(BaseTransform):
    """Base of the colour ops here: applies :meth:`_apply` to ``img`` with
    probability ``prob`` at the released magnitude of ``level``."""

    def __init__(self, prob=1.0, level=None):
        name = type(self).__name__
        self.prob = levels.check_probability(prob, 'prob', name)
        if level is None:
            raise TypeError(f'{name}: level is required (0..10 in the '
                            'released policies, 15 in EfficientDet\'s '
                            'RandAugment).')
        self.level = level
        self.magnitude = self._magnitude(levels.check_level(level, name))

    def _magnitude(self, level):
        """The released magnitude of ``level`` (see :mod:`.levels`)."""
        return levels.enhance_factor(level)

    def _apply(self, img):
        raise NotImplementedError

    @cache_randomness
    def _random_disable(self):
        return np.random.rand() > self.prob

    def transform(self, results):
        """Replace ``results['img']`` by the op's output."""
        if self._random_disable():
            return results
        img = results['img']
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise TypeError(
                f'{type(self).__name__}: expects a BGR uint8 (h, w, 3) '
                f'image, got {img.dtype} {img.shape}. Run it right after '
                'LoadImageFromFile, before Normalize.')
        results['img'] = self._apply(img)
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level})')


_DOC = """
    Required Keys:

    - img (np.uint8, BGR)

    Modified Keys:

    - img

    Args:
        prob (float): Probability of applying the op. Defaults to 1.0.
        level (int | float): Magnitude level (0..10 in the released
            policies; larger levels extrapolate). Required.
"""


def _doc(extra=''):

    def deco(cls):
        cls.__doc__ = cls.__doc__.rstrip() + '\n' + _DOC + extra
        return cls

    return deco


@TRANSFORMS.register_module()
@_doc()
class TFColor(TFColourTransform):
    """Color (released ``color``): blend with the grey image by the factor
    ``level / 10 * 1.8 + 0.1`` (L6 -> 1.18); 0 gives grey, 1 the image."""

    def _apply(self, img):
        return blend(
            np.repeat(grey(img)[..., None], 3, axis=2), img, self.magnitude)


@TRANSFORMS.register_module()
@_doc()
class TFBrightness(TFColourTransform):
    """Brightness (released ``brightness``): blend with black by the factor
    ``level / 10 * 1.8 + 0.1``."""

    def _apply(self, img):
        return blend(np.zeros_like(img), img, self.magnitude)


@TRANSFORMS.register_module()
@_doc("""        released_mean (bool): True: blend with the constant grey level
            the released code computes, ``min(h * w / 256, 255)`` (its
            "mean" sums the histogram counts, not the pixel values, so it is
            255 for images of 65,280 pixels or more). False: blend with the
            mean grey level (PIL's ``ImageEnhance.Contrast``). Defaults to
            True.
""")
class TFContrast(TFColourTransform):
    """Contrast (released ``contrast``): blend with a constant grey image by
    the factor ``level / 10 * 1.8 + 0.1``."""

    def __init__(self, prob=1.0, level=None, released_mean=True):
        super().__init__(prob, level)
        self.released_mean = bool(released_mean)

    def _apply(self, img):
        gray = grey(img)
        if self.released_mean:
            # sum(histogram) / 256 == number of pixels / 256
            mean = np.float32(gray.size) / np.float32(256.0)
        else:
            mean = gray.astype(np.float64).mean()
        value = np.uint8(np.clip(mean, 0.0, 255.0))
        return blend(np.full_like(img, value), img, self.magnitude)

    def __repr__(self):
        return super().__repr__()[:-1] + (
            f', released_mean={self.released_mean})')


@TRANSFORMS.register_module()
@_doc()
class TFSharpness(TFColourTransform):
    """Sharpness (released ``sharpness``): blend with the image smoothed by
    PIL's SMOOTH kernel (valid convolution, truncated to uint8, the one-pixel
    border kept from the image) by the factor ``level / 10 * 1.8 + 0.1``.

    The smoothed value is the correctly rounded float32 ``sum / 13``; TF sums
    nine float32 products, which can land one grey level lower where the
    weighted mean is a whole number."""

    def _apply(self, img):
        height, width = img.shape[:2]
        if height < 3 or width < 3:
            return img.copy()
        src = img.astype(np.float32)
        acc = np.zeros((height - 2, width - 2, 3), dtype=np.float32)
        for dy in range(3):
            for dx in range(3):
                acc += SMOOTH_KERNEL[dy, dx] * src[dy:dy + height - 2,
                                                   dx:dx + width - 2]
        smooth = img.copy()
        smooth[1:-1, 1:-1] = np.clip(acc / np.float32(13.0), 0.0,
                                     255.0).astype(np.uint8)
        return blend(smooth, img, self.magnitude)


@TRANSFORMS.register_module()
@_doc()
class TFSolarizeAdd(TFColourTransform):
    """SolarizeAdd (released ``solarize_add``): pixels below 128 get
    ``int(level / 10 * 110)`` added, clipped to 255; the others stay."""

    def _magnitude(self, level):
        return levels.solarize_addition(level)

    def _apply(self, img):
        added = np.minimum(img.astype(np.int64) + self.magnitude, 255)
        return np.where(img < levels.SOLARIZE_ADD_THRESHOLD, added,
                        img).astype(np.uint8)


@TRANSFORMS.register_module()
@_doc("""        threshold_overflow (str): How a threshold above 255 is read:
            'wrap' is the released arithmetic (the threshold converted to
            uint8, modulo 256: level 10 inverts every pixel, level 15 the
            pixels >= 128); 'clip' changes no pixel above 255. Defaults to
            'wrap'.
""")
class TFSolarize(TFColourTransform):
    """Solarize (released ``solarize``): pixels at or above the threshold
    ``int(level / 10 * 256)`` are inverted (``255 - v``); the threshold as
    the release converts it to uint8 (module docstring)."""

    def __init__(self,
                 prob=1.0,
                 level=None,
                 threshold_overflow=RELEASED_THRESHOLD_OVERFLOW):
        self.threshold_overflow = check_threshold_overflow(
            threshold_overflow,
            type(self).__name__)
        super().__init__(prob, level)
        #: The effective threshold (0..256).
        self.threshold = solarize_threshold(self.magnitude,
                                            self.threshold_overflow)

    def _magnitude(self, level):
        return levels.solarize_threshold(level)

    def _apply(self, img):
        return solarize(img, self.threshold)

    def __repr__(self):
        return super().__repr__()[:-1] + (
            f', threshold_overflow={self.threshold_overflow!r})')
