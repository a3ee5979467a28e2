# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The built-in shapes data as a semantic-segmentation set (class maps).

Zoph et al. 2020's second task is PASCAL VOC 2012 semantic segmentation
(Sec. 3.2, Tables 6, 8, 11, 14). Its CPU stand-in is derived from the
built-in shapes data (:mod:`.shapes`): every image's visible instance masks
(already free of overlaps: occluded pixels belong to the object in front)
are painted into one class map, ``0`` for background and ``1..4`` for
:data:`~.shapes.SHAPES_CLASSES`, so 5 classes as PASCAL has 21 (20 objects
and background). The unlabeled split's class maps come from its hidden
ground truth: no training config reads them; they score a teacher's pseudo
label maps (mIoU, fraction of pixels kept).

Layout, next to the shapes data (``mmseg``'s ``img_path`` /
``seg_map_path`` pairs, PNG, palette-free, one byte per pixel)::

    root/train/000000.png              # the shapes images
    root/seg_maps/train/000000.png     # their class maps
    root/seg_maps/val/000000.png
    root/seg_maps/unlabeled/000000.png # hidden: only for scoring

Deterministic: a class map is a function of the instance JSON only.
"""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from rethink_mmdet.utils import progress
from .shapes import SHAPES_CLASSES, UNLABELED_GT_FILE

__all__ = [
    'SEG_CLASSES', 'SEG_MAPS_DIR', 'SEG_SPLIT_ANNS', 'class_map',
    'make_shapes_seg'
]

#: Class names of the class maps: background, then the shapes classes.
SEG_CLASSES = ('background', ) + tuple(SHAPES_CLASSES)
#: Folder of the class maps under the shapes root.
SEG_MAPS_DIR = 'seg_maps'
#: split -> the instance JSON (under ``annotations/``) its maps come from.
SEG_SPLIT_ANNS = {
    'train': 'instances_train.json',
    'val': 'instances_val.json',
    'unlabeled': UNLABELED_GT_FILE,
}


def class_map(image: dict, anns: list) -> np.ndarray:
    """One image's class map from its COCO annotations.

    Args:
        image (dict): COCO image entry (``height``, ``width``).
        anns (list[dict]): Its annotations (RLE ``segmentation``,
            ``category_id`` 1..4).

    Returns:
        np.ndarray: (H, W) uint8, 0 background, ``category_id`` elsewhere.
    """
    out = np.zeros((image['height'], image['width']), np.uint8)
    for ann in anns:
        seg = dict(ann['segmentation'])
        seg['counts'] = seg['counts'].encode('ascii')
        out[mask_utils.decode(seg).astype(bool)] = ann['category_id']
    return out


def make_shapes_seg(root: str, splits=tuple(SEG_SPLIT_ANNS)) -> dict:
    """Write the class maps of the shapes data under ``root``.

    Args:
        root (str): A shapes data root made by ``tools/make_shapes.py``.
        splits (tuple[str]): Splits to write. Defaults to all
            (train, val, unlabeled).

    Returns:
        dict: split -> number of class maps written.
    """
    written = {}
    for split in splits:
        ann_file = osp.join(root, 'annotations', SEG_SPLIT_ANNS[split])
        if not osp.isfile(ann_file):
            raise FileNotFoundError(
                f'{ann_file} not found: make the shapes data first '
                f'(python tools/make_shapes.py --out {root}).')
        with open(ann_file, encoding='utf-8') as f:
            coco = json.load(f)
        by_image = {}
        for ann in coco['annotations']:
            by_image.setdefault(ann['image_id'], []).append(ann)
        out_dir = osp.join(root, SEG_MAPS_DIR, split)
        os.makedirs(out_dir, exist_ok=True)
        for image in progress(
                coco['images'],
                len(coco['images']),
                f'shapes seg/{split}',
                leave=False):
            name = osp.splitext(image['file_name'])[0] + '.png'
            Image.fromarray(class_map(image,
                                      by_image.get(image['id'], []))).save(
                                          osp.join(out_dir, name),
                                          format='PNG',
                                          compress_level=1)
        written[split] = len(coco['images'])
    return written
