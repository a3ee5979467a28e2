# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Shapes classification: the package's own "ImageNet" stand-in.

He et al. 2019 ("Rethinking ImageNet Pre-training", Sec. 1 and 5) compare a
detector trained from random initialization against one whose backbone was
first pre-trained on a *classification* task (ImageNet) and then fine-tuned
with GN. On the built-in shapes data the package generates that upstream
task itself: object-centric images of the same four shape families, textures
and colours as the detection dataset (:mod:`.shapes`, whose rendering
functions are reused, not copied), one image-level label each.

Each image shows one dominant object: a background and one object of the
labelled class are rendered on a canvas twice the image side (so the object
spans 0.2-0.8 of the image side, like an ImageNet photo of one object), then
a window containing the object is cropped and noise added. Labels are
balanced by construction: image ``i`` of a split has label
``i % num_classes``; the training sampler shuffles. The RNG of image ``i``
depends on ``(seed, split, i)`` only, with split ids disjoint from those of
:func:`~.shapes.make_shapes`, so no classification image repeats a
detection image. The same arguments give byte-identical files (within one
numpy/Pillow installation).

On-disk layout (mmengine ``BaseDataset`` annotation format)::

    out_dir/train/000000.png ...
    out_dir/val/000000.png ...
    out_dir/annotations/train.json
    out_dir/annotations/val.json

with every JSON ``{"metainfo": {"classes": [...], "seed": ...,
"img_size": ...}, "data_list": [{"img_path": "000000.png", "gt_label": 0},
...]}``; ``img_path`` is relative to the split folder, so a config uses
``data_root=out_dir, ann_file='annotations/train.json',
data_prefix=dict(img_path='train/')``.
"""
import os
import os.path as osp

import numpy as np
from mmengine.dataset import BaseDataset
from PIL import Image

from mmdet.registry import DATASETS
from rethink_mmdet.utils import dump_json, progress
from .shapes import (SHAPES_CLASSES, _background, _inner_boundary, _pick_color,
                     _shape_mask)

__all__ = [
    'SHAPES_CLS_SPLITS', 'make_shapes_classification', 'ShapesClsDataset'
]

#: split name -> split id in the RNG seed (make_shapes uses 0, 1, 2).
SHAPES_CLS_SPLITS = {'train': 100, 'val': 101}
_CANVAS_FACTOR = 2  # canvas side / image side


def _crop_origin(rng, lo, hi, canvas, size):
    """Origin of a ``size`` window on ``[0, canvas)`` containing the object
    span ``[lo, hi]`` where possible (else centred on it)."""
    first = max(0, hi + 1 - size)
    last = min(lo, canvas - size)
    if first <= last:
        return int(rng.integers(first, last + 1))
    return int(np.clip((lo + hi + 1 - size) // 2, 0, canvas - size))


def render_cls_image(seed, split_id, index, img_size, label):
    """Render one classification image of class ``label``.

    Background, object geometry, fill colour and dark rim come from the
    detection dataset's renderer (:mod:`.shapes`).

    Args:
        seed (int): Dataset seed.
        split_id (int): Split id used in the RNG seed.
        index (int): Image index within the split.
        img_size (int): Side length of the square output image.
        label (int): Index into :data:`~.shapes.SHAPES_CLASSES`.

    Returns:
        np.ndarray: The uint8 RGB image of shape (img_size, img_size, 3).
    """
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, split_id, index]))
    canvas = img_size * _CANVAS_FACTOR
    img = _background(rng, canvas)
    full = _shape_mask(rng, label, canvas)
    color = _pick_color(rng, img[full].mean(0))
    img[full] = color
    if rng.random() < 0.5:
        rim = _inner_boundary(full, int(rng.integers(1, 3)))
        img[rim] = color * np.float32(rng.uniform(0.4, 0.7))
    ys, xs = np.nonzero(full)
    y0 = _crop_origin(rng, ys.min(), ys.max(), canvas, img_size)
    x0 = _crop_origin(rng, xs.min(), xs.max(), canvas, img_size)
    out = img[y0:y0 + img_size, x0:x0 + img_size]
    noise = rng.standard_normal(out.shape, dtype=np.float32)
    out += noise * np.float32(rng.uniform(2, 6))
    np.clip(out, 0, 255, out=out)
    out += np.float32(0.5)  # round half up when truncating
    return out.astype(np.uint8)


def _write_split(out_dir, split, num, seed, img_size):
    """Render one split; returns its annotation dict."""
    split_id = SHAPES_CLS_SPLITS[split]
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    data_list = []
    for index in progress(range(num), num, f'shapes_cls/{split}', leave=False):
        label = index % len(SHAPES_CLASSES)
        img = render_cls_image(seed, split_id, index, img_size, label)
        name = f'{index:06d}.png'
        Image.fromarray(img).save(
            osp.join(img_dir, name), format='PNG', compress_level=1)
        data_list.append(dict(img_path=name, gt_label=label))
    metainfo = dict(
        classes=list(SHAPES_CLASSES),
        dataset='rethink_mmdet shapes classification',
        split=split,
        seed=int(seed),
        img_size=int(img_size))
    return dict(metainfo=metainfo, data_list=data_list)


def make_shapes_classification(out_dir,
                               num_train=2000,
                               num_val=400,
                               seed=0,
                               img_size=64):
    """Generate the shapes classification dataset (the ImageNet stand-in).

    Image ``i`` of a split depends only on ``(seed, split, i)`` and has label
    ``i % 4``, so every split is balanced to within one image per class.
    Existing files with the same names are overwritten.

    Args:
        out_dir (str): Output root directory, created if missing.
        num_train (int): Number of training images. Defaults to 2000.
        num_val (int): Number of validation images. Defaults to 400.
        seed (int): Non-negative dataset seed. Defaults to 0.
        img_size (int): Side length of the square RGB images.
            Defaults to 64.

    Returns:
        dict: Written paths: ``'train_ann'``, ``'val_ann'`` (annotation
        JSON files) and ``'root'`` (``out_dir``).
    """
    for name, value in (('num_train', num_train), ('num_val', num_val),
                        ('seed', seed)):
        if int(value) < 0:
            raise ValueError(f'{name} must be non-negative, got {value}')
    if int(img_size) < 16:
        raise ValueError(f'img_size must be >= 16, got {img_size}')
    out_dir = str(out_dir)
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    paths = dict(root=out_dir)
    for split, num in (('train', num_train), ('val', num_val)):
        paths[f'{split}_ann'] = osp.join(ann_dir, f'{split}.json')
        ann = _write_split(out_dir, split, int(num), int(seed), int(img_size))
        dump_json(ann, paths[f'{split}_ann'])
    return paths


@DATASETS.register_module()
class ShapesClsDataset(BaseDataset):
    """The shapes classification dataset written by
    :func:`make_shapes_classification`.

    mmengine's ``BaseDataset`` reads the ``metainfo`` / ``data_list`` JSON;
    this class fixes the class names and checks every label. Accepts every
    argument of :class:`mmengine.dataset.BaseDataset`; configs pass
    ``data_prefix=dict(img_path='train/')``.
    """

    METAINFO = dict(classes=SHAPES_CLASSES)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Join ``img_path`` with its prefix and check ``gt_label``.

        Args:
            raw_data_info (dict): One entry of ``data_list``.

        Returns:
            dict: The entry with the full ``img_path``.
        """
        label = raw_data_info.get('gt_label')
        num_classes = len(self.metainfo['classes'])
        if not isinstance(label, int) or not 0 <= label < num_classes:
            raise ValueError(
                f'{self.ann_file}: entry {raw_data_info!r} has gt_label '
                f'{label!r}; expected an int in [0, {num_classes}). '
                'Regenerate it with tools/make_shapes_classification.py.')
        return super().parse_data_info(raw_data_info)

    def get_cat_ids(self, idx: int) -> list:
        """The label of image ``idx`` as a one-element list (for
        class-aware samplers).

        Args:
            idx (int): Index of the image.

        Returns:
            list[int]: ``[gt_label]``.
        """
        return [self.get_data_info(idx)['gt_label']]
