# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Deterministic synthetic COCO-format instance-segmentation dataset.

``shapes`` is the built-in dataset of ``rethink_mmdet`` for CPU demos, smoke
trainings and unit tests. It is small, generated on the fly in a few seconds
and still non-trivial: every image has a textured background (smooth colour
gradient, faint stripes and blobs, low-amplitude noise) and 2 to 6 rotated,
randomly coloured and mutually occluding objects of four classes
(:data:`SHAPES_CLASSES`). A tiny Mask R-CNN trained from scratch on CPU learns
it within a few hundred iterations.

The on-disk layout mirrors COCO: a labelled ``train``/``val`` pair (like
``train2017``/``val2017``) plus an image-only ``unlabeled`` split whose JSON
contains only ``images`` and ``categories`` (like COCO ``unlabeled2017``
``image_info``), which is what semi-supervised detectors consume, and the
unlabeled split's *hidden* ground truth in a separate file that no training
config reads (COCO train2017 used as an unlabeled set has it too): it scores
a teacher's pseudo labels (``tools/study.py`` reports their AP, precision
and recall against it; Zoph et al. 2020, Sec. 3)::

    out_dir/train/000000.png ...
    out_dir/val/000000.png ...
    out_dir/unlabeled/000000.png ...
    out_dir/annotations/instances_train.json
    out_dir/annotations/instances_val.json
    out_dir/annotations/image_info_unlabeled.json        # images only
    out_dir/annotations/instances_unlabeled_hidden.json  # its ground truth

``file_name`` is relative to the split folder, so an MMDetection config uses
e.g. ``data_root=out_dir, ann_file='annotations/instances_train.json',
data_prefix=dict(img='train/')``.

Generation is fully deterministic: the RNG of every image is derived from
``(seed, split, index)`` only, so image ``i`` of a split does not depend on the
number of images requested, and the same seed gives byte-identical PNG and
JSON files (within one numpy/Pillow installation; vectorised float maths may
differ in the last bit across CPUs or library versions). Only numpy, Pillow
and pycocotools are required.
"""
import os
import os.path as osp

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from rethink_mmdet.utils import dump_json, progress
from .shapes_drawing import (SHAPES_CLASSES, background, inner_boundary,
                             pick_color, shape_mask)

__all__ = ['SHAPES_CLASSES', 'UNLABELED_GT_FILE', 'make_shapes']

#: The unlabeled split's hidden ground truth (under ``annotations/``).
UNLABELED_GT_FILE = 'instances_unlabeled_hidden.json'

# split name -> (split id used in the RNG seed, image/annotation id offset)
_SPLITS = {
    'train': (0, 0),
    'val': (1, 1_000_000),
    'unlabeled': (2, 2_000_000),
}

_MIN_OBJECTS = 2
_MAX_OBJECTS = 6
_MIN_VISIBLE_FRAC = 0.4
_MIN_VISIBLE_AREA = 30


def _sample_objects(rng, size):
    """Sample objects and resolve occlusion.

    Objects are painted in list order, so the visible mask of an object is its
    full mask minus the union of the *kept* objects painted after it.
    Objects that would be too occluded are dropped (and not painted).

    Args:
        rng (np.random.Generator): Per-image random generator.
        size (int): Image side length in pixels.

    Returns:
        list[tuple[int, np.ndarray, np.ndarray]]: ``(cls_idx, full_mask,
        visible_mask)`` of the kept objects in painting order.
    """
    while True:
        num = int(rng.integers(_MIN_OBJECTS, _MAX_OBJECTS + 1))
        objs = []
        for _ in range(num):
            cls_idx = int(rng.integers(len(SHAPES_CLASSES)))
            objs.append((cls_idx, shape_mask(rng, cls_idx, size)))
        kept = []
        cover = np.zeros((size, size), dtype=bool)
        for cls_idx, full in reversed(objs):
            visible = full & ~cover
            full_area = int(full.sum())
            vis_area = int(visible.sum())
            if (vis_area < _MIN_VISIBLE_AREA
                    or vis_area < _MIN_VISIBLE_FRAC * full_area):
                continue
            kept.append((cls_idx, full, visible))
            cover |= full
        if kept:
            return kept[::-1]


def _render_image(seed, split_id, index, size):
    """Render one image and its instances.

    Args:
        seed (int): Dataset seed.
        split_id (int): Split id used in the RNG seed.
        index (int): Image index within the split.
        size (int): Image side length in pixels.

    Returns:
        tuple[np.ndarray, list[tuple[int, np.ndarray]]]: The uint8 RGB image
        and ``(cls_idx, visible_mask)`` of every instance.
    """
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, split_id, index]))
    img = background(rng, size)
    objs = _sample_objects(rng, size)
    for _, full, _ in objs:
        color = pick_color(rng, img[full].mean(0))
        img[full] = color
        if rng.random() < 0.5:
            edge = inner_boundary(full, int(rng.integers(1, 3)))
            img[edge] = color * np.float32(rng.uniform(0.4, 0.7))
    noise_std = np.float32(rng.uniform(2, 6))
    img += rng.standard_normal((size, size, 3), dtype=np.float32) * noise_std
    np.clip(img, 0, 255, out=img)
    img += np.float32(0.5)  # round half up when truncating below
    img = img.astype(np.uint8)
    return img, [(cls_idx, vis) for cls_idx, _, vis in objs]


def _annotation(ann_id, image_id, cls_idx, visible):
    """Build a COCO annotation dict from a visible mask.

    Args:
        ann_id (int): Annotation id.
        image_id (int): Image id.
        cls_idx (int): Index into :data:`SHAPES_CLASSES`.
        visible (np.ndarray): Boolean visible mask.

    Returns:
        dict: COCO annotation with compressed RLE ``segmentation``.
    """
    rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    ys, xs = np.nonzero(visible)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [
        float(x0),
        float(y0),
        float(xs.max() - x0 + 1),
        float(ys.max() - y0 + 1)
    ]
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=cls_idx + 1,
        bbox=bbox,
        area=float(visible.sum()),
        iscrowd=0,
        segmentation=dict(
            size=[int(s) for s in rle['size']], counts=rle['counts']))


def _write_split(out_dir, split, num, seed, image_size):
    """Render all images of one split and return its COCO dict.

    Args:
        out_dir (str): Dataset root.
        split (str): One of ``'train'``, ``'val'`` and ``'unlabeled'``.
        num (int): Number of images.
        seed (int): Dataset seed.
        image_size (int): Image side length in pixels.

    Returns:
        dict: COCO-format dict with ``annotations`` (the caller drops them
        from the image-only file of the unlabeled split).
    """
    split_id, id_offset = _SPLITS[split]
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, anns = [], []
    for index in progress(range(num), num, f'shapes/{split}', leave=False):
        img, objs = _render_image(seed, split_id, index, image_size)
        file_name = f'{index:06d}.png'
        Image.fromarray(img).save(
            osp.join(img_dir, file_name),
            format='PNG',
            optimize=False,
            compress_level=1)
        image_id = id_offset + index + 1
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=image_size,
                height=image_size))
        for cls_idx, visible in objs:
            anns.append(
                _annotation(id_offset + len(anns) + 1, image_id, cls_idx,
                            visible))
    coco = dict(
        info=dict(
            description='rethink_mmdet synthetic shapes dataset '
            f'({split} split)',
            version='1.0',
            contributor='rethink_mmdet',
            url='',
            seed=int(seed),
            image_size=int(image_size)),
        licenses=[],
        images=images,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(SHAPES_CLASSES)
        ],
        annotations=anns)
    return coco


def make_shapes(out_dir,
                num_train=400,
                num_val=100,
                num_unlabeled=200,
                seed=0,
                image_size=256):
    """Generate the synthetic ``shapes`` dataset in COCO format.

    Image ``i`` of a split only depends on ``(seed, split, i)``; the same
    arguments always produce byte-identical files. Existing files with the
    same names are overwritten.

    Args:
        out_dir (str): Output root directory, created if missing.
        num_train (int): Number of labelled training images.
            Defaults to 400.
        num_val (int): Number of labelled validation images. Defaults to 100.
        num_unlabeled (int): Number of image-only unlabelled images.
            Defaults to 200.
        seed (int): Non-negative dataset seed. Defaults to 0.
        image_size (int): Side length of the square RGB images.
            Defaults to 256.

    Returns:
        dict: Written paths with keys ``'train_ann'``, ``'val_ann'``,
        ``'unlabeled_ann'`` (annotation JSON files; the unlabeled one holds
        images and categories only), ``'unlabeled_gt'`` (the unlabeled
        split's hidden ground truth, for scoring pseudo labels; never read
        by training) and ``'root'`` (``out_dir``).
    """
    for name, value in (('num_train', num_train), ('num_val', num_val),
                        ('num_unlabeled', num_unlabeled), ('seed', seed)):
        if int(value) < 0:
            raise ValueError(f'{name} must be non-negative, got {value}')
    if int(image_size) < 32:
        raise ValueError(f'image_size must be >= 32, got {image_size}')
    out_dir = str(out_dir)
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    paths = dict(
        train_ann=osp.join(ann_dir, 'instances_train.json'),
        val_ann=osp.join(ann_dir, 'instances_val.json'),
        unlabeled_ann=osp.join(ann_dir, 'image_info_unlabeled.json'),
        unlabeled_gt=osp.join(ann_dir, UNLABELED_GT_FILE),
        root=out_dir)
    for split, num, key in (
        ('train', num_train, 'train_ann'),
        ('val', num_val, 'val_ann'),
        ('unlabeled', num_unlabeled, 'unlabeled_gt'),
    ):
        coco = _write_split(out_dir, split, int(num), int(seed),
                            int(image_size))
        dump_json(coco, paths[key])
    # the image-only file of the unlabeled split, as COCO's image_info
    del coco['annotations']
    dump_json(coco, paths['unlabeled_ann'])
    return paths
