"""Data: the built-in shapes dataset (generator and mmdet dataset class) and
deterministic COCO subsets."""
from .coco_subset import (COCO_TRAIN2017_IMAGES, CocoSubsetDataset,
                          LabelShareError)
from .shapes import SHAPES_CLASSES, make_shapes
from .shapes_config import use_shapes_data
from .shapes_dataset import ShapesDataset
from .subset import make_subset, subset_ids_path

__all__ = [
    'SHAPES_CLASSES', 'make_shapes', 'ShapesDataset', 'make_subset',
    'subset_ids_path', 'use_shapes_data', 'COCO_TRAIN2017_IMAGES',
    'CocoSubsetDataset', 'LabelShareError'
]
