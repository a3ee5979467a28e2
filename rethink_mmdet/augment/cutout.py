"""The two whole-image cutouts of the released detection AutoAugment
(tensorflow/tpu ``autoaugment_utils.py``): ``cutout`` (policy name
``Cutout``) and ``bbox_cutout`` (``BBox_Cutout``). Boxes, masks and the
semantic map are left unchanged, as in the released code.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS
from . import levels
from .affine import REFERENCE_SIZE_DOC
from .instances import box_array, num_instances

_KEYS_DOC = """

    Required Keys:

    - img (np.uint8)
    - gt_bboxes (BaseBoxes[torch.float32]) (optional{boxes_note})

    Modified Keys:

    - img (boxes, masks and semantic map unchanged)

    Args:
        prob (float): Probability of applying the op. Defaults to 1.0.
        level (int | float): Magnitude level (0..10 in the released
            policies; larger levels extrapolate). Required.
        fill_in (int | tuple): Fill of the hole. Defaults to 128.
"""


def uniform_centre(shape, uniforms):
    """Integer centre ``(int(u0 * h), int(u1 * w))``: the released
    ``tf.random_uniform(minval=0, maxval=h, dtype=tf.int32)`` draw."""
    return int(uniforms[0] * shape[0]), int(uniforms[1] * shape[1])


def cutout_slices(shape, centre, pad):
    """Rows / columns of the released cutout hole: ``[c - pad, c + pad)``
    clipped to ``shape`` (the padding arithmetic of ``cutout`` and
    ``_cutout_inside_bbox``).

    Args:
        shape (tuple[int]): ``(h, w)`` of the array the hole is cut in.
        centre (tuple[int]): ``(cy, cx)``.
        pad (int | tuple[int]): Half side, or ``(pad_h, pad_w)``.
    """
    height, width = shape[:2]
    pad_h, pad_w = (pad, pad) if np.isscalar(pad) else pad
    cy, cx = centre
    return (slice(max(0, cy - pad_h), max(0, min(height, cy + pad_h))),
            slice(max(0, cx - pad_w), max(0, min(width, cx + pad_w))))


@TRANSFORMS.register_module()
class CenteredCutout(BaseTransform):
    """Cutout (released ``cutout``): one square hole of side ``2 * pad``,
    ``pad = int(L/10*100)`` (``cutout_const``; L8 -> 160 px), centred
    uniformly at random over the image and clipped at the borders, filled
    with 128. With ``reference_size`` the released pad is scaled by
    ``reference_size / 640`` and truncated: ``int(int(L/10*100) * R /
    640)`` (L8 at 256: pad 32, a 64 px hole). mmdet's ``CutOut`` instead
    places a hole of a fixed size with its top-left corner uniform over the
    image (so the hole is never clipped at the top or left and covers the
    top-left corner less often)."""
    __doc__ += _KEYS_DOC.format(boxes_note='; unused') + REFERENCE_SIZE_DOC

    def __init__(self,
                 prob=1.0,
                 level=None,
                 fill_in=levels.FILL_VALUE,
                 reference_size=None):
        name = type(self).__name__
        self.prob = levels.check_probability(prob, 'prob', name)
        self.level = level
        self.reference_size = levels.check_reference_size(reference_size, name)
        self.pad = levels.cutout_pad(
            levels.require_level(level, name), levels.CUTOUT_CONST,
            self.reference_size)
        self.fill_in = fill_in

    @cache_randomness
    def _draw(self):
        """Whether to apply, and uniforms for the hole's centre."""
        uniforms = np.random.rand(3)
        return bool(uniforms[0] < self.prob), uniforms[1:]

    def transform(self, results):
        """Cut the hole into ``results['img']``."""
        apply, centre = self._draw()
        if apply and self.pad > 0:
            img = results['img'].copy()
            hole = cutout_slices(img.shape, uniform_centre(img.shape, centre),
                                 self.pad)
            img[hole] = self.fill_in
            results['img'] = img
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level}, fill_in={self.fill_in}, '
                f'reference_size={self.reference_size})')


@TRANSFORMS.register_module()
class BBoxCutout(CenteredCutout):
    """BBox_Cutout (released ``bbox_cutout`` / ``_cutout_inside_bbox``):
    one box is chosen uniformly; a hole of ``(2 * int(f * bh / 2), 2 *
    int(f * bw / 2))`` px, ``f = L/10*0.75`` (``cutout_max_pad_fraction``)
    and ``bh, bw`` the box's pixel size, is centred at a uniform pixel of
    the box and clipped to the image (not to the box). The fill is 128, or
    the box's per-channel mean pixel with ``replace_with_mean``. Without
    boxes the image is unchanged. The hole is a fraction of the box, not a
    pixel constant, so it takes no ``reference_size``. mmdet has no
    equivalent."""
    __doc__ += _KEYS_DOC.format(boxes_note='; without boxes nothing\n'
                                '      happens') + """\
        replace_with_mean (bool): Fill with the chosen box's mean pixel
            (``cutout_bbox_replace_with_mean``). Defaults to False.
"""

    def __init__(self,
                 prob=1.0,
                 level=None,
                 fill_in=levels.FILL_VALUE,
                 replace_with_mean=levels.CUTOUT_BBOX_REPLACE_WITH_MEAN):
        name = type(self).__name__
        self.prob = levels.check_probability(prob, 'prob', name)
        self.level = level
        self.pad_fraction = levels.bbox_cutout_pad_fraction(
            levels.require_level(level, name))
        self.fill_in = fill_in
        self.replace_with_mean = bool(replace_with_mean)

    @cache_randomness
    def _draw(self):
        """Whether to apply, and uniforms for the box and the centre."""
        uniforms = np.random.rand(4)
        return bool(uniforms[0] < self.prob), uniforms[1:]

    def transform(self, results):
        """Cut the hole inside a random box of ``results``."""
        num = num_instances(results)
        apply, uniforms = self._draw()
        if not apply or not num:
            return results
        img = results['img'].copy()
        box = box_array(results)[int(uniforms[0] * num)]
        x0, y0, x1, y1 = np.floor(np.nan_to_num(box)).astype(int)
        box_h, box_w = y1 - y0 + 1, x1 - x0 + 1
        centre = (y0 + int(uniforms[1] * box_h), x0 + int(uniforms[2] * box_w))
        pad = (int(self.pad_fraction * box_h / 2),
               int(self.pad_fraction * box_w / 2))
        fill = self.fill_in
        content = img[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1]
        if self.replace_with_mean and content.size:
            fill = content.mean(axis=(0, 1)).astype(img.dtype)
        img[cutout_slices(img.shape, centre, pad)] = fill
        results['img'] = img
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'level={self.level}, fill_in={self.fill_in}, '
                f'replace_with_mean={self.replace_with_mean})')
