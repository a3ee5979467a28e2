"""Detection RandAugment as released with EfficientDet (google/automl
``efficientdet/aug/autoaugment.py``, ``distort_image_with_randaugment``;
called from ``efficientdet/dataloader.py`` with ``num_layers=1,
magnitude=15`` when ``autoaugment_policy == 'randaug'``): the transform's
defaults are that call's. Zoph et al. 2020 use RandAugment for Aug-S4 at
"a magnitude of 10 for all models" (Sec. 3.1 [V]; 15 for the ResNet-101
runs of Table 12 [V]); the number of ops N is not stated [U].
``configs/_base_/augment/aug-s4.py`` sets magnitude 10 and N = 1,
``aug-s4-m15.py`` magnitude 15.
"""
from numbers import Integral

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS
from . import colour, levels
from .policies import BBOX_ONLY_OPS, OP_NAMES, POLICY_KEYS_DOC, op_config

#: ``distort_image_with_randaugment``: available_ops.
EFFICIENTDET_OPS = ('Equalize', 'Solarize', 'Color', 'Cutout', 'SolarizeAdd',
                    'TranslateX_BBox', 'TranslateY_BBox', 'ShearX_BBox',
                    'ShearY_BBox', 'Rotate_BBox')


@TRANSFORMS.register_module()
class DetectionRandAugment(BaseTransform):
    """Detection RandAugment: ``num_ops`` ops drawn uniformly with
    replacement per image, each at the one global ``magnitude``, applied in
    the order drawn.

    The released code draws, per layer, the op and a probability ``p ~
    U(0.2, 0.8)``, but hands ``p`` only to ops whose function takes a
    ``prob`` argument (the ``*_Only_BBoxes`` family, where it is the box
    probability times 3); every other chosen op always runs. That is the
    default here; ``gate_all_ops=True`` instead runs every chosen op with
    probability ``p`` (the reading "each op applied with a probability drawn
    from U(0.2, 0.8)").

    Magnitude 10 (Zoph et al. 2020's Aug-S4) is the policies' ``MAX_LEVEL``:
    translate 250 px, shear 0.3, rotate 30 degrees, cutout hole 200 px,
    Color factor 1.9, SolarizeAdd +110, and Solarize's threshold 256, which
    the release converts to uint8 (0): every pixel is inverted. The released
    magnitude 15 lies above ``MAX_LEVEL``; the level formulas extrapolate
    (:mod:`.levels`): translate 375 px, shear 0.45, rotate 45 degrees,
    cutout hole 300 px, Color factor 2.8, SolarizeAdd +165, and Solarize's
    threshold 384 becomes 128 in uint8 (the pixels >= 128 are inverted).
    ``solarize_threshold_overflow='clip'`` makes Solarize above 255 leave
    the image unchanged instead (:mod:`.colour`). Released hparams:
    ``translate_const`` 250, ``cutout_const`` 100, fill 128; those pixel
    magnitudes are for 640 px images, ``reference_size`` scales them.
    """
    __doc__ += POLICY_KEYS_DOC + """\
    Args:
        num_ops (int): Ops per image (the released ``num_layers``).
            Defaults to 1.
        magnitude (int | float): Level of every op (Zoph et al. 2020's
            Aug-S4: 10). Defaults to 15, the released EfficientDet call.
        ops (Sequence[str]): Released op names to draw from (see
            :data:`rethink_mmdet.augment.policies.OP_NAMES`). Defaults to
            :data:`EFFICIENTDET_OPS`.
        prob_range (tuple[float]): ``(low, high)`` of the per-op probability
            draw. Defaults to (0.2, 0.8).
        gate_all_ops (bool): Run every chosen op with the drawn
            probability, not only the bbox-only ones. Defaults to False.
        img_border_value (int | tuple): Fill of vacated pixels. Defaults to
            128.
        solarize_threshold_overflow (str): Solarize thresholds above 255
            (magnitudes >= 10): 'wrap' as released (modulo 256: magnitude 10
            inverts every pixel, 15 the pixels >= 128) or 'clip' (no pixel
            changes). Defaults to 'wrap'.
        reference_size (int, optional): Image size (px) the pixel
            magnitudes are for. None keeps the released ones, made for
            COCO-sized images (640 px): translate ``M/10*250`` px, cutout
            pad ``int(M/10*100)``. An int ``R`` scales them by ``R / 640``
            (translate unrounded, the cutout pad truncated again after
            scaling): ``reference/papers.md`` §2, "In a miniature, pixel
            magnitudes must scale with the image" (at 256 and magnitude 10:
            translate 100 px, an 80 px cutout hole). Shear, rotate and the
            colour ops do not change. Defaults to None.
    """

    def __init__(
            self,
            num_ops=1,
            magnitude=15,
            ops=EFFICIENTDET_OPS,
            prob_range=(0.2, 0.8),
            gate_all_ops=False,
            img_border_value=levels.FILL_VALUE,
            solarize_threshold_overflow=colour.RELEASED_THRESHOLD_OVERFLOW,
            reference_size=None):
        name = type(self).__name__
        if isinstance(num_ops, bool) or not isinstance(num_ops, Integral) \
                or num_ops < 1:
            raise ValueError(f'{name}: num_ops must be an int >= 1, got '
                             f'{num_ops!r}.')
        if isinstance(ops, str) or not len(ops):
            raise ValueError(f'{name}: ops must be a non-empty list of '
                             f'released op names, got {ops!r}.')
        unknown = [op for op in ops if op not in OP_NAMES]
        if unknown:
            raise KeyError(f'{name}: unknown ops {unknown}; known (released '
                           f'names): {", ".join(OP_NAMES)}.')
        low, high = (
            levels.check_probability(p, 'prob_range', name)
            for p in prob_range)
        if low > high:
            raise ValueError(f'{name}: prob_range must be (low, high) with '
                             f'low <= high, got {prob_range!r}.')
        self.num_ops = int(num_ops)
        self.magnitude = levels.check_level(magnitude, name)
        self.ops = tuple(ops)
        self.prob_range = (low, high)
        self.gate_all_ops = bool(gate_all_ops)
        self.img_border_value = img_border_value
        self.solarize_threshold_overflow = colour.check_threshold_overflow(
            solarize_threshold_overflow, name, 'solarize_threshold_overflow')
        self.reference_size = levels.check_reference_size(reference_size, name)
        # bbox-only ops get the drawn probability as their own argument, so
        # they are built per draw; the others are built once, always on.
        # In mmdet's scope whatever the default scope (an mmseg pipeline
        # calls this transform as 'mmdet.DetectionRandAugment').
        self._cfgs = [
            dict(
                op_config(op, 1.0, self.magnitude, img_border_value,
                          solarize_threshold_overflow, self.reference_size),
                _scope_='mmdet') for op in self.ops
        ]
        self._built = [
            None if op in BBOX_ONLY_OPS else TRANSFORMS.build(cfg)
            for op, cfg in zip(self.ops, self._cfgs)
        ]

    @cache_randomness
    def _draw(self):
        """Op indices, their probabilities and the gate uniforms."""
        index = np.random.randint(len(self.ops), size=self.num_ops)
        prob = np.random.uniform(*self.prob_range, size=self.num_ops)
        gate = np.random.rand(self.num_ops)
        return index, prob, gate

    def transform(self, results):
        """Apply the drawn ops to ``results`` in order."""
        for i, prob, gate in zip(*self._draw()):
            op = self._built[i]
            if op is None:
                op = TRANSFORMS.build(dict(self._cfgs[i], prob=float(prob)))
            elif self.gate_all_ops and gate >= prob:
                continue
            results = op(results)
            if results is None:
                return None
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(num_ops={self.num_ops}, '
                f'magnitude={self.magnitude}, ops={self.ops}, '
                f'prob_range={self.prob_range}, '
                f'gate_all_ops={self.gate_all_ops}, '
                f'img_border_value={self.img_border_value}, '
                'solarize_threshold_overflow='
                f'{self.solarize_threshold_overflow!r}, '
                f'reference_size={self.reference_size})')
