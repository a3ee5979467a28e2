"""The shapes class maps (rethink_mmdet.data.shapes_seg) agree with the
instance annotations they are painted from."""
import json
import os.path as osp

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_seg import (SEG_CLASSES, SEG_MAPS_DIR,
                                           make_shapes_seg)


def test_class_maps_follow_the_visible_masks(tmp_path):
    root = str(tmp_path)
    make_shapes(root, num_train=4, num_val=2, num_unlabeled=3, image_size=64)
    written = make_shapes_seg(root)
    assert written == dict(train=4, val=2, unlabeled=3)
    assert SEG_CLASSES[0] == 'background' and len(SEG_CLASSES) == 5
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    for image in coco['images']:
        path = osp.join(root, SEG_MAPS_DIR, 'train', image['file_name'])
        png = Image.open(path)
        assert png.mode == 'L'  # palette-free, one byte per pixel
        seg = np.array(png)
        assert seg.shape == (image['height'], image['width'])
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        covered = np.zeros(seg.shape, bool)
        for ann in anns:
            rle = dict(ann['segmentation'])
            rle['counts'] = rle['counts'].encode('ascii')
            mask = mask_utils.decode(rle).astype(bool)
            assert not (covered & mask).any()  # visible masks do not overlap
            covered |= mask
            assert (seg[mask] == ann['category_id']).all()
        assert (seg[~covered] == 0).all()
        assert covered.any()


def test_same_annotations_give_same_bytes(tmp_path):
    roots = [str(tmp_path / n) for n in 'ab']
    for root in roots:
        make_shapes(
            root, num_train=2, num_val=1, num_unlabeled=1, image_size=48)
        make_shapes_seg(root, splits=('train', ))
    blobs = [
        open(osp.join(r, SEG_MAPS_DIR, 'train', '000001.png'), 'rb').read()
        for r in roots
    ]
    assert blobs[0] == blobs[1]
