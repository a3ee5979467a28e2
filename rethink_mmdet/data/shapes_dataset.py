"""``ShapesDataset``: mmdet's ``CocoDataset`` with the built-in shapes classes.

The built-in dataset (:mod:`rethink_mmdet.data.shapes`) is plain COCO JSON,
so it needs no parser of its own; this class only fixes its ``METAINFO`` so
that configs, evaluators and visualisers agree on the class names without
repeating them.
"""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from .shapes import SHAPES_CLASSES

# One colour per class, for DetLocalVisualizer.
SHAPES_PALETTE = [(220, 20, 60), (0, 128, 255), (0, 200, 0), (255, 160, 0)]


@DATASETS.register_module()
class ShapesDataset(CocoDataset):
    """The built-in shapes dataset (COCO format, RLE masks).

    Accepts every argument of :class:`mmdet.datasets.CocoDataset`.
    """

    METAINFO = dict(classes=SHAPES_CLASSES, palette=SHAPES_PALETTE)
