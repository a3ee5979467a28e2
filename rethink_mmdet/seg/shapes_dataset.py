# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The built-in shapes class maps as an MMSegmentation dataset.

The CPU stand-in for PASCAL VOC 2012 (Zoph et al. 2020, Sec. 3.2): images of
the built-in shapes data with the class maps of
:mod:`rethink_mmdet.data.shapes_seg` (``tools/make_shapes_seg.py``), 5
classes with background as PASCAL has 21.
"""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from rethink_mmdet.data.shapes_seg import SEG_CLASSES

__all__ = ['ShapesSegDataset']


@DATASETS.register_module()
class ShapesSegDataset(BaseSegDataset):
    """Shapes images and their class maps (``0`` background, ``1..4``).

    Config form::

        dict(type='ShapesSegDataset', data_root='data/shapes/',
             data_prefix=dict(img_path='train/',
                              seg_map_path='seg_maps/train/'))

    Args:
        img_suffix (str): Defaults to ``'.png'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        reduce_zero_label (bool): Defaults to False (0 is background, a
            class, as in PASCAL VOC).
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments.
    """
    METAINFO = dict(
        classes=SEG_CLASSES,
        palette=[[0, 0, 0], [220, 20, 60], [0, 128, 0], [0, 0, 230],
                 [250, 170, 30]])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
