# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""mmdet's EfficientNet with the EfficientNet-L2 scaling.

Zoph et al. 2020's best PASCAL segmentor has an EfficientNet-L2 backbone
(Noisy Student, Sec. 3.2 / Table 6 [V]); mmdet's ``EfficientNet`` knows
b0-b8 and the EdgeTPU archs, not L2. L2 is the B0 layout scaled by width
4.3 and depth 5.3 (train resolution 800): tensorflow/tpu
``models/official/efficientnet/efficientnet_builder.py``,
``efficientnet_params``: ``'efficientnet-l2': (4.3, 5.3, 800, 0.5)`` [V, as
copied verbatim by the PyTorch ports of that file]. mmdet rounds widths
and depths as the builder does (``make_divisible(c * w, 8)``,
``ceil(d * n)``), so ``arch='l2'`` gives L2's shapes: stages 3-5 end with
176, 480 and 1376 channels.

Which checkpoints load: mmpretrain's EfficientNet has the same layout and
an ``l2`` arch; its converted Noisy Student L2 files load with
``init_cfg=dict(type='Pretrained', prefix='backbone.', ...)`` [U: not
loaded here]. ``tools/model_converters/efficientnet_tf_to_mmdet.py`` builds
mmdet's own ``EfficientNet`` for its target shapes, so it refuses the TF
``efficientnet-l2`` checkpoints ("mmdet's EfficientNet has no arch 'l2'").
"""
from mmseg.registry import MODELS

from mmdet.models.backbones import EfficientNet

__all__ = ['EfficientNetWithL2']


@MODELS.register_module()
class EfficientNetWithL2(EfficientNet):
    """mmdet's ``EfficientNet`` with ``arch='l2'`` (width 4.3, depth 5.3,
    resolution 800); every other arch and argument is mmdet's.

    Args:
        arch (str): One of mmdet's archs or ``'l2'``. Defaults to 'l2'.
        **kwargs: mmdet ``EfficientNet``'s other arguments.
    """
    arch_settings = dict(EfficientNet.arch_settings, l2=(4.3, 5.3, 800))
    # mmdet picks the block layout by the arch's first letter: L2 scales
    # the B0 layout ('b').
    layer_settings = dict(
        EfficientNet.layer_settings, l=EfficientNet.layer_settings['b'])

    def __init__(self, arch='l2', **kwargs):
        if arch not in self.arch_settings:
            raise KeyError(
                f'EfficientNetWithL2: unknown arch {arch!r}; one of '
                f'{", ".join(self.arch_settings)}.')
        super().__init__(arch=arch, **kwargs)
