# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Zoph et al. 2020's segmentation half (PASCAL VOC 2012) on MMSegmentation.

Zoph et al. 2020, Sec. 3.2 and Tables 6, 8, 11, 14: a teacher segmentor
labels extra images with multi-scale inference, pixels whose averaged class
probability is below 0.5 get the ignore label, and a student trains on human
+ pseudo label maps with loss normalization (App. B).

Not imported by ``import rethink_mmdet`` (the detection side never needs
MMSegmentation). Segmentation configs register these components into
**mmseg's** registries with::

    custom_imports = dict(
        imports=['rethink_mmdet.seg'], allow_failed_imports=False)

The segmentor of the paper's PASCAL configs
(``configs/rethinking-self-training-seg/``): mmdet's ``EfficientNet``
(``EfficientNetWithL2`` adds arch ``'l2'``), ``SeparableNASFPN`` (mmdet's
NAS-FPN with ``DepthwiseSeparableConv2d`` merge-cell convs) and
``PyramidFusionHead`` (P3-P7 summed at P2, three 3x3 convs, 1x1 classifier).

It needs the ``[seg]`` extra: ``pip install 'rethink_mmdet[seg]'``
(requirements/seg.txt: MMSegmentation 1.2.x, the release for mmcv 2.1 and
mmengine 0.10).
"""
from .requirement import require_mmseg

require_mmseg()

import rethink_mmdet  # noqa: E402,F401  (the shared engine components)
from .efficientnet import EfficientNetWithL2  # noqa: E402
from .nas_fpn import SeparableNASFPN  # noqa: E402
from .pseudo_dataset import PseudoSegDataset  # noqa: E402
from .pseudo_reader import PseudoSegStore  # noqa: E402
from .pyramid_fusion_head import PyramidFusionHead  # noqa: E402
from .quality import score_pseudo_labels  # noqa: E402
from .separable_conv import DepthwiseSeparableConv2d  # noqa: E402
from .shapes_dataset import ShapesSegDataset  # noqa: E402
from .student import SelfTrainingSegmentor  # noqa: E402

__all__ = [
    'DepthwiseSeparableConv2d', 'EfficientNetWithL2', 'PseudoSegDataset',
    'PseudoSegStore', 'PyramidFusionHead', 'SelfTrainingSegmentor',
    'SeparableNASFPN', 'ShapesSegDataset', 'require_mmseg',
    'score_pseudo_labels'
]
