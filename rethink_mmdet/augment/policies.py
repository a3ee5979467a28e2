"""Detection AutoAugment (Zoph et al. 2019, "Learning Data Augmentation
Strategies for Object Detection"): the released policies v0..v3 and
:class:`DetectionAutoAugment`, the mmdet transform that runs them.

The tables are data copied from the released tensorflow/tpu
``models/official/detection/utils/autoaugment_utils.py`` (``policy_v0`` ..
``policy_v3``; identical in google/automl ``efficientdet/aug/
autoaugment.py``). "v0 is the policy used for all of the results in the
paper"; Zoph et al. 2020 (Aug-S2, Aug-S3) use v0.

Each op is a ``(TF op name, probability, level)`` tuple; :func:`op_config`
maps it to the config of the mmdet transform that computes it: ours from
:mod:`.geometric`, :mod:`.bbox_only`, :mod:`.cutout` and :mod:`.colour`, or
mmdet's own ``Equalize``, ``AutoContrast`` and ``Posterize`` where their
arithmetic is the released one (``AutoContrast`` within one grey level, see
:mod:`.colour`). Solarize at level 10 (threshold 256) inverts every pixel
and at level 15 (384) the pixels >= 128, as the release's uint8 threshold
does; ``solarize_threshold_overflow='clip'`` makes thresholds above 255 a
no-op instead.
"""
from mmcv.transforms import RandomChoice

from mmdet.registry import TRANSFORMS
from . import colour, levels  # noqa: F401  (registers the TF colour ops)
from .instances import REQUIRED_KEYS_DOC

# autoaugment_utils.policy_v0: (op, prob, level) per op, 2 ops per sub-policy
POLICY_V0 = (
    (('TranslateX_BBox', 0.6, 4), ('Equalize', 0.8, 10)),
    (('TranslateY_Only_BBoxes', 0.2, 2), ('Cutout', 0.8, 8)),
    (('Sharpness', 0.0, 8), ('ShearX_BBox', 0.4, 0)),
    (('ShearY_BBox', 1.0, 2), ('TranslateY_Only_BBoxes', 0.6, 6)),
    (('Rotate_BBox', 0.6, 10), ('Color', 1.0, 6)),
)
# autoaugment_utils.policy_v1
POLICY_V1 = POLICY_V0 + (
    (('Color', 0.0, 0), ('ShearX_Only_BBoxes', 0.8, 4)),
    (('ShearY_Only_BBoxes', 0.8, 2), ('Flip_Only_BBoxes', 0.0, 10)),
    (('Equalize', 0.6, 10), ('TranslateX_BBox', 0.2, 2)),
    (('Color', 1.0, 10), ('TranslateY_Only_BBoxes', 0.4, 6)),
    (('Rotate_BBox', 0.8, 10), ('Contrast', 0.0, 10)),
    (('Cutout', 0.2, 2), ('Brightness', 0.8, 10)),
    (('Color', 1.0, 6), ('Equalize', 1.0, 2)),
    (('Cutout_Only_BBoxes', 0.4, 6), ('TranslateY_Only_BBoxes', 0.8, 2)),
    (('Color', 0.2, 8), ('Rotate_BBox', 0.8, 10)),
    (('Sharpness', 0.4, 4), ('TranslateY_Only_BBoxes', 0.0, 4)),
    (('Sharpness', 1.0, 4), ('SolarizeAdd', 0.4, 4)),
    (('Rotate_BBox', 1.0, 8), ('Sharpness', 0.2, 8)),
    (('ShearY_BBox', 0.6, 10), ('Equalize_Only_BBoxes', 0.6, 8)),
    (('ShearX_BBox', 0.2, 6), ('TranslateY_Only_BBoxes', 0.2, 10)),
    (('SolarizeAdd', 0.6, 8), ('Brightness', 0.8, 10)),
)
# autoaugment_utils.policy_v2: 3 ops per sub-policy
# yapf: disable
POLICY_V2 = (
    (('Color', 0.0, 6), ('Cutout', 0.6, 8), ('Sharpness', 0.4, 8)),
    (('Rotate_BBox', 0.4, 8), ('Sharpness', 0.4, 2),
     ('Rotate_BBox', 0.8, 10)),
    (('TranslateY_BBox', 1.0, 8), ('AutoContrast', 0.8, 2)),
    (('AutoContrast', 0.4, 6), ('ShearX_BBox', 0.8, 8),
     ('Brightness', 0.0, 10)),
    (('SolarizeAdd', 0.2, 6), ('Contrast', 0.0, 10),
     ('AutoContrast', 0.6, 0)),
    (('Cutout', 0.2, 0), ('Solarize', 0.8, 8), ('Color', 1.0, 4)),
    (('TranslateY_BBox', 0.0, 4), ('Equalize', 0.6, 8),
     ('Solarize', 0.0, 10)),
    (('TranslateY_BBox', 0.2, 2), ('ShearY_BBox', 0.8, 8),
     ('Rotate_BBox', 0.8, 8)),
    (('Cutout', 0.8, 8), ('Brightness', 0.8, 8), ('Cutout', 0.2, 2)),
    (('Color', 0.8, 4), ('TranslateY_BBox', 1.0, 6),
     ('Rotate_BBox', 0.6, 6)),
    (('Rotate_BBox', 0.6, 10), ('BBox_Cutout', 1.0, 4), ('Cutout', 0.2, 8)),
    (('Rotate_BBox', 0.0, 0), ('Equalize', 0.6, 6),
     ('ShearY_BBox', 0.6, 8)),
    (('Brightness', 0.8, 8), ('AutoContrast', 0.4, 2),
     ('Brightness', 0.2, 2)),
    (('TranslateY_BBox', 0.4, 8), ('Solarize', 0.4, 6),
     ('SolarizeAdd', 0.2, 10)),
    (('Contrast', 1.0, 10), ('SolarizeAdd', 0.2, 8), ('Equalize', 0.2, 4)),
)
# yapf: enable
# autoaugment_utils.policy_v3
POLICY_V3 = (
    (('Posterize', 0.8, 2), ('TranslateX_BBox', 1.0, 8)),
    (('BBox_Cutout', 0.2, 10), ('Sharpness', 1.0, 8)),
    (('Rotate_BBox', 0.6, 8), ('Rotate_BBox', 0.8, 10)),
    (('Equalize', 0.8, 10), ('AutoContrast', 0.2, 10)),
    (('SolarizeAdd', 0.2, 2), ('TranslateY_BBox', 0.2, 8)),
    (('Sharpness', 0.0, 2), ('Color', 0.4, 8)),
    (('Equalize', 1.0, 8), ('TranslateY_BBox', 1.0, 8)),
    (('Posterize', 0.6, 2), ('Rotate_BBox', 0.0, 10)),
    (('AutoContrast', 0.6, 0), ('Rotate_BBox', 1.0, 6)),
    (('Equalize', 0.0, 4), ('Cutout', 0.8, 10)),
    (('Brightness', 1.0, 2), ('TranslateY_BBox', 1.0, 6)),
    (('Contrast', 0.0, 2), ('ShearY_BBox', 0.8, 0)),
    (('AutoContrast', 0.8, 10), ('Contrast', 0.2, 10)),
    (('Rotate_BBox', 1.0, 10), ('Cutout', 1.0, 10)),
    (('SolarizeAdd', 0.8, 6), ('Equalize', 0.8, 8)),
)
#: The released policies by name (``distort_image_with_autoaugment``).
POLICIES = dict(v0=POLICY_V0, v1=POLICY_V1, v2=POLICY_V2, v3=POLICY_V3)

# TF op name -> (registered transform, the arguments :func:`op_config` sets
# besides prob): 'level'; 'max_mag' (mmdet's Posterize: the exact released
# magnitude at level=10); 'img_border_value' / 'fill_in' take the fill, the
# released ``replace`` (BBox_Cutout's released fill is a fixed 128);
# 'threshold_overflow' the Solarize ops' reading of thresholds above 255;
# 'reference_size' the image size the pixel magnitudes are for (the ops
# whose magnitude is in pixels: translate, bbox-only translate, cutout,
# bbox-only cutout; BBox_Cutout's hole is a fraction of the box).
_OPS = {
    'TranslateX_BBox':
    ('TranslateXBBox', 'level', 'img_border_value', 'reference_size'),
    'TranslateY_BBox':
    ('TranslateYBBox', 'level', 'img_border_value', 'reference_size'),
    'ShearX_BBox': ('ShearXBBox', 'level', 'img_border_value'),
    'ShearY_BBox': ('ShearYBBox', 'level', 'img_border_value'),
    'Rotate_BBox': ('RotateBBox', 'level', 'img_border_value'),
    'TranslateX_Only_BBoxes':
    ('TranslateXOnlyBBoxes', 'level', 'img_border_value', 'reference_size'),
    'TranslateY_Only_BBoxes':
    ('TranslateYOnlyBBoxes', 'level', 'img_border_value', 'reference_size'),
    'ShearX_Only_BBoxes': ('ShearXOnlyBBoxes', 'level', 'img_border_value'),
    'ShearY_Only_BBoxes': ('ShearYOnlyBBoxes', 'level', 'img_border_value'),
    'Rotate_Only_BBoxes': ('RotateOnlyBBoxes', 'level', 'img_border_value'),
    'Flip_Only_BBoxes': ('FlipOnlyBBoxes', ),
    'Equalize_Only_BBoxes': ('EqualizeOnlyBBoxes', ),
    'Solarize_Only_BBoxes': ('SolarizeOnlyBBoxes', 'level',
                             'threshold_overflow'),
    'Cutout_Only_BBoxes': ('CutoutOnlyBBoxes', 'level', 'fill_in',
                           'reference_size'),
    'Cutout': ('CenteredCutout', 'level', 'fill_in', 'reference_size'),
    'BBox_Cutout': ('BBoxCutout', 'level'),
    'Color': ('TFColor', 'level'),
    'Contrast': ('TFContrast', 'level'),
    'Brightness': ('TFBrightness', 'level'),
    'Sharpness': ('TFSharpness', 'level'),
    'SolarizeAdd': ('TFSolarizeAdd', 'level'),
    'Solarize': ('TFSolarize', 'level', 'threshold_overflow'),
    # mmdet's own (arithmetic = released, AutoContrast within one grey
    # level; Posterize's magnitude passed exactly below)
    'Equalize': ('Equalize', ),
    'AutoContrast': ('AutoContrast', ),
    'Posterize': ('Posterize', 'max_mag'),
}
#: The released op names :func:`op_config` knows.
OP_NAMES = tuple(_OPS)
#: Released ops whose function takes the probability itself (per box,
#: ``prob / 3``), so ``_apply_func_with_prob`` always calls them.
BBOX_ONLY_OPS = tuple(name for name in _OPS if name.endswith('_BBoxes'))


def _mmdet_magnitude(name, level):
    """The released magnitude of mmdet's Posterize, as the ``max_mag`` that
    mmdet's ``level_to_mag`` returns unrounded at ``level=10``."""
    # TF's CPU bitwise kernels clamp the shift at 7 bits (tensorflow/core/
    # kernels/cwise_ops.h, right_shift_op / left_shift_op), so 0 bits
    # (levels below 2.5) keeps 1 bit, as mmdet's Posterize with 1 bit does.
    return float(max(levels.posterize_bits(level), 1))


def op_config(name,
              prob,
              level,
              img_border_value=levels.FILL_VALUE,
              solarize_threshold_overflow=colour.RELEASED_THRESHOLD_OVERFLOW,
              reference_size=None):
    """The mmdet transform config of one released op.

    Args:
        name (str): Released op name, one of :data:`OP_NAMES`.
        prob (float): Probability of the op (for the bbox-only ops, the
            per-box probability is ``prob / 3``, inside the transform).
        level (int | float): Magnitude level (0..10; more extrapolates).
        img_border_value (int | tuple): Fill of vacated pixels (the
            released ``replace``). Defaults to 128.
        solarize_threshold_overflow (str): ``threshold_overflow`` of the
            Solarize ops: 'wrap' (released: threshold modulo 256, level 10
            inverts every pixel) or 'clip' (above 255 no pixel changes).
            Defaults to 'wrap'.
        reference_size (int, optional): ``reference_size`` of the ops
            whose magnitude is in pixels (translate, bbox-only translate,
            cutout, bbox-only cutout): None keeps the released pixels (640
            px images), an int ``R`` scales them by ``R / 640``. Other ops
            get no such key. Defaults to None.

    Returns:
        dict: A config for ``mmdet.registry.TRANSFORMS.build``.
    """
    if name not in _OPS:
        raise KeyError(f'Unknown detection AutoAugment op {name!r}. Known '
                       f'ops (released names): {", ".join(OP_NAMES)}.')
    levels.check_probability(prob, f'{name} probability', 'op_config')
    level = levels.check_level(level, name)
    colour.check_threshold_overflow(solarize_threshold_overflow, 'op_config',
                                    'solarize_threshold_overflow')
    levels.check_reference_size(reference_size, 'op_config')
    type_, *args = _OPS[name]
    cfg = dict(type=type_, prob=float(prob))
    for arg in args:
        if arg == 'level':
            cfg['level'] = level
        elif arg == 'max_mag':
            cfg.update(
                level=10, min_mag=0.0, max_mag=_mmdet_magnitude(name, level))
        elif arg == 'threshold_overflow':
            cfg['threshold_overflow'] = solarize_threshold_overflow
        elif arg == 'reference_size':
            cfg['reference_size'] = reference_size
        else:
            cfg[arg] = img_border_value
    return cfg


def _check_table(table):
    """Validate a user policy table of ``(name, prob, level)`` tuples."""
    if isinstance(table, (str, bytes)) or not len(table):
        raise ValueError('policies must be a non-empty list of sub-policies, '
                         'each a non-empty list of (op name, prob, level) '
                         f'tuples; got {table!r}.')
    for i, sub in enumerate(table):
        if isinstance(sub, (str, bytes)) or not len(sub):
            raise ValueError(f'policies[{i}] must be a non-empty list of '
                             f'(op name, prob, level) tuples; got {sub!r}.')
        for op in sub:
            if isinstance(op, dict) or len(op) != 3:
                raise ValueError(
                    f'policies[{i}]: each op must be a (released op name, '
                    f'prob, level) tuple such as ("Rotate_BBox", 0.6, 10); '
                    f'got {op!r}.')
    return tuple(tuple(tuple(op) for op in sub) for sub in table)


#: The Required / Modified / Added Keys of the policy transforms.
POLICY_KEYS_DOC = REQUIRED_KEYS_DOC + """
    Modified Keys:

    - img
    - gt_bboxes, and the rows of the other per-box keys (boxes that leave
      the image or become empty are dropped with all their rows)
    - gt_masks
    - gt_seg_map

    Added Keys:

    - homography_matrix

"""


@TRANSFORMS.register_module()
class DetectionAutoAugment(RandomChoice):
    """Detection AutoAugment (released ``distort_image_with_autoaugment``):
    one sub-policy drawn uniformly per image, its ops applied in order, each
    with its own probability (``_apply_func_with_prob``; the bbox-only ops
    always run and draw per box with ``prob / 3``).

    The released order puts it first, on the raw image before flip and
    resize (tensorflow/tpu ``retinanet_parser.py``), so pixel magnitudes are
    in original-image pixels. The draw is mmcv's ``RandomChoice`` (global
    NumPy RNG under ``@cache_randomness``), so the dataloader worker seed
    reproduces it. Unlike mmdet's ``AutoAugment`` (whose default is the
    ImageNet classification policy), it takes a released detection policy by
    name.
    """
    __doc__ += POLICY_KEYS_DOC + """\
    Args:
        policy (str): Released policy: 'v0', 'v1', 'v2' or 'v3'. Ignored
            when ``policies`` is given. Defaults to 'v0'.
        policies (list[list[tuple]], optional): A custom table of
            sub-policies, each a list of ``(released op name, prob, level)``
            tuples (names: :data:`OP_NAMES`). Defaults to None.
        img_border_value (int | tuple): Fill of vacated pixels (the
            released ``replace``). Defaults to 128.
        solarize_threshold_overflow (str): Solarize thresholds above 255
            (levels >= 10): 'wrap' as released (modulo 256: level 10
            inverts every pixel) or 'clip' (no pixel changes). Defaults to
            'wrap'.
        reference_size (int, optional): Image size (px) the pixel
            magnitudes are for. None keeps the released ones, made for
            COCO-sized images (640 px): translate ``L/10*250``, bbox-only
            translate ``L/10*120``, cutout pad ``int(L/10*100)``, bbox-only
            cutout pad ``int(L/10*50)``. An int ``R`` scales each by ``R /
            640`` (translates unrounded; a cutout pad truncated again after
            scaling), so the policy keeps its strength relative to smaller
            images (``reference/papers.md`` §2: "In a miniature, pixel
            magnitudes must scale with the image"; at 256, TranslateX L4 =
            40 px, Cutout L8 = a 64 px hole). Shear, rotate, BBox_Cutout's
            box fraction and the colour ops do not change. Defaults to None.
"""

    def __init__(
            self,
            policy='v0',
            policies=None,
            img_border_value=levels.FILL_VALUE,
            solarize_threshold_overflow=colour.RELEASED_THRESHOLD_OVERFLOW,
            reference_size=None):
        if policies is None:
            if policy not in POLICIES:
                raise KeyError(
                    f'DetectionAutoAugment: unknown policy {policy!r}; the '
                    f'released ones are {", ".join(POLICIES)} (v0 is the '
                    'paper\'s), or pass your own table as policies=.')
            table = POLICIES[policy]
        else:
            table = _check_table(policies)
            policy = 'custom'
        self.policy = policy
        self.table = table
        self.img_border_value = img_border_value
        self.solarize_threshold_overflow = colour.check_threshold_overflow(
            solarize_threshold_overflow,
            type(self).__name__, 'solarize_threshold_overflow')
        self.reference_size = levels.check_reference_size(
            reference_size,
            type(self).__name__)
        #: The transform configs, one list per sub-policy.
        self.policies = [[
            op_config(
                *op,
                img_border_value=img_border_value,
                solarize_threshold_overflow=solarize_threshold_overflow,
                reference_size=self.reference_size) for op in sub
        ] for sub in table]
        # Built from mmdet's registry here, so that no default scope is
        # needed (mmcv's Compose would look the names up in mmcv's), and in
        # mmdet's scope whatever the default scope (an mmseg pipeline calls
        # 'mmdet.DetectionAutoAugment').
        super().__init__(transforms=[[
            TRANSFORMS.build(dict(cfg, _scope_='mmdet')) for cfg in sub
        ] for sub in self.policies])

    def __repr__(self):
        return (f'{type(self).__name__}(policy={self.policy!r}, '
                f'num_sub_policies={len(self.table)}, '
                f'img_border_value={self.img_border_value}, '
                'solarize_threshold_overflow='
                f'{self.solarize_threshold_overflow!r}, '
                f'reference_size={self.reference_size})')
