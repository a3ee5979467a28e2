# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Shapes classification: the package's own "ImageNet" stand-in.

He et al. 2019 ("Rethinking ImageNet Pre-training", Sec. 1 and 5) compare a
detector trained from random initialization against one whose backbone was
first pre-trained on a *classification* task (ImageNet) and then fine-tuned
with GN. ImageNet is a different task on a different image distribution from
COCO: one label for an iconic, object-centric photo of one of 1000 categories
(some of them texture-like), against boxes and masks of 80 categories in
cluttered scenes. What the pre-trained backbone brings to COCO is mainly
generic low-level features that training from scratch has to learn on the
target data (Sec. 3.2, "Convergence"), an advantage that fades with longer
schedules (Sec. 5.1, Fig. 1); their discussion (Sec. 6) weighs it against
collecting target data, all the more where the pre-training task is far from
the target task. An in-domain stand-in (classifying the detection set's own
categories) would pre-learn the target's *semantics* as well and keep an
advantage at any schedule, which is not the comparison of the paper.

So the default class set (``families='disjoint'``,
:data:`SHAPES_CLS_CLASSES`) is out of domain: six shape families the
detection data (:mod:`.shapes`) does not contain (ring, cross, hexagon,
crescent, ellipse, arrow) and four textures (stripes, checkerboard, dots,
zigzag), while the rendering is the detection data's (its background,
fill-colour, rim and pose helpers are reused, not copied), so the low-level
statistics are shared and the categories are not. ``families='detection'``
gives the former in-domain set (:data:`~.shapes.SHAPES_CLASSES`, the
detector's own four families; the same images as earlier releases), e.g. to
measure how much of the pre-training gain is the shared categories.

Each image is iconic: a background and one object of the labelled class
are rendered on a canvas twice the image side (so the object spans
0.3-0.8 of the image side, 0.2-0.8 for the detection families, like an
ImageNet photo of one object), or a texture fills the canvas; then a window
containing the object is cropped and noise added. Every class varies in
size, rotation, colour (always clearly different from the local
background), rim and its own shape parameters (ring thickness, ellipse
aspect, arm widths, texture period and duty cycle...). Labels are balanced
by construction: image ``i`` of a split has label ``i % num_classes``; the
training sampler shuffles. The RNG of image ``i`` depends on
``(seed, split, i)`` only, with split ids disjoint from those of
:func:`~.shapes.make_shapes`, so no classification image repeats a
detection image. The same arguments give byte-identical files (within one
numpy/Pillow installation).

On-disk layout (mmengine ``BaseDataset`` annotation format)::

    out_dir/train/000000.png ...
    out_dir/val/000000.png ...
    out_dir/annotations/train.json
    out_dir/annotations/val.json

with every JSON ``{"metainfo": {"classes": [...], "families": ...,
"seed": ..., "img_size": ...}, "data_list": [{"img_path": "000000.png",
"gt_label": 0}, ...]}``; :class:`ShapesClsDataset` takes its class names
from ``metainfo.classes``. ``img_path`` is relative to the split folder, so
a config uses ``data_root=out_dir, ann_file='annotations/train.json',
data_prefix=dict(img_path='train/')``.
"""
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

from rethink_mmdet.utils import dump_json, progress
from .shapes import SHAPES_CLASSES
from .shapes_drawing import (background, draw_polygon, inner_boundary,
                             pick_color, sample_pose, shape_mask)

__all__ = [
    'SHAPES_CLS_CLASSES', 'SHAPES_CLS_FAMILIES', 'SHAPES_CLS_SPLITS',
    'make_shapes_classification'
]

#: The default (out-of-domain) classes: shape families and textures that
#: the detection data's :data:`~.shapes.SHAPES_CLASSES` do not contain.
SHAPES_CLS_CLASSES = ('ring', 'cross', 'hexagon', 'crescent', 'ellipse',
                      'arrow', 'stripes', 'checkerboard', 'dots', 'zigzag')
#: ``families`` argument -> class names.
SHAPES_CLS_FAMILIES = {
    'disjoint': SHAPES_CLS_CLASSES,
    'detection': SHAPES_CLASSES,
}
#: split name -> split id in the RNG seed (make_shapes uses 0, 1, 2).
SHAPES_CLS_SPLITS = {'train': 100, 'val': 101}
_CANVAS_FACTOR = 2  # canvas side / image side
# object diameter of the disjoint families, relative to the canvas
# (0.3-0.8 of the image side)
_OBJ_DIAMETER = (0.15, 0.4)
_TEXTURE_PERIOD = (0.05, 0.15)  # relative to the canvas (0.1-0.3 image)


def _object_mask(rng, size, paint):
    """Rasterise one object at a random pose (see
    :func:`~.shapes.sample_pose`).

    Args:
        rng (np.random.Generator): Per-image random generator.
        size (int): Canvas side length in pixels.
        paint (callable): ``paint(rng, draw, cx, cy, r, theta)`` fills the
            object with 1 (and may cut holes with 0).

    Returns:
        np.ndarray: Boolean mask of shape (size, size).
    """
    cx, cy, r, theta = sample_pose(rng, size, *_OBJ_DIAMETER)
    canvas = Image.new('L', (size, size), 0)
    paint(rng, ImageDraw.Draw(canvas), cx, cy, r, theta)
    return np.asarray(canvas, dtype=np.uint8).astype(bool)


def _disc(draw, cx, cy, r, fill):
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)


def _local_polygon(draw, cx, cy, theta, u, v):
    """Fill a polygon given in object coordinates ``(u, v)`` (``u`` along
    the object's axis), rotated by ``theta`` about ``(cx, cy)``."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    draw_polygon(draw, cx, cy, np.hypot(u, v), theta + np.arctan2(v, u))


def _paint_ring(rng, draw, cx, cy, r, theta):
    _disc(draw, cx, cy, r, 1)
    _disc(draw, cx, cy, r * rng.uniform(0.4, 0.7), 0)


def _paint_cross(rng, draw, cx, cy, r, theta):
    w = r * rng.uniform(0.18, 0.35)  # arm half width
    a, b = r, r * rng.uniform(0.6, 1.0)  # arm lengths along u and v
    u = [a, w, w, -w, -w, -a, -a, -w, -w, w, w, a]
    v = [w, w, b, b, w, w, -w, -w, -b, -b, -w, -w]
    _local_polygon(draw, cx, cy, theta, u, v)


def _paint_hexagon(rng, draw, cx, cy, r, theta):
    draw_polygon(draw, cx, cy, np.full(6, r),
                 theta + np.arange(6) * (np.pi / 3))


def _paint_crescent(rng, draw, cx, cy, r, theta):
    _disc(draw, cx, cy, r, 1)
    off = r * rng.uniform(0.3, 0.6)
    _disc(draw, cx + off * np.cos(theta), cy + off * np.sin(theta),
          r * rng.uniform(0.8, 0.95), 0)


def _paint_ellipse(rng, draw, cx, cy, r, theta):
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    b = r * rng.uniform(0.35, 0.65)  # minor semi-axis: never a circle
    _local_polygon(draw, cx, cy, theta, r * np.cos(t), b * np.sin(t))


def _paint_arrow(rng, draw, cx, cy, r, theta):
    w = r * rng.uniform(0.12, 0.25)  # shaft half width
    hw = r * rng.uniform(0.45, 0.7)  # head half width
    neck = r - 2 * r * rng.uniform(0.3, 0.45)  # where the head starts
    u = [-r, neck, neck, r, neck, neck, -r]
    v = [-w, -w, -hw, 0, hw, w, w]
    _local_polygon(draw, cx, cy, theta, u, v)


def _texture_coords(rng, size):
    """Texture coordinates on a ``size`` canvas: rotated by a random angle,
    in units of a random period, with a random phase.

    Returns:
        tuple[np.ndarray, np.ndarray]: Float32 ``u`` and ``v`` of shape
        (size, size).
    """
    ang = rng.uniform(0, np.pi)
    period = rng.uniform(*_TEXTURE_PERIOD) * size
    phase = rng.uniform(0, 1, 2).astype(np.float32)
    coords = np.arange(size, dtype=np.float32) / np.float32(period)
    c, s = np.float32(np.cos(ang)), np.float32(np.sin(ang))
    u = coords[None, :] * c + coords[:, None] * s + phase[0]
    v = coords[:, None] * c - coords[None, :] * s + phase[1]
    return u, v


def _frac(x):
    return x - np.floor(x)


def _stripes(rng, size):
    u, _ = _texture_coords(rng, size)
    return _frac(u) < rng.uniform(0.3, 0.6)


def _checkerboard(rng, size):
    u, v = _texture_coords(rng, size)
    return (np.floor(u) + np.floor(v)) % 2 == 0


def _dots(rng, size):
    u, v = _texture_coords(rng, size)
    rad = np.float32(rng.uniform(0.2, 0.38))
    return (_frac(u) - 0.5)**2 + (_frac(v) - 0.5)**2 < rad * rad


def _zigzag(rng, size):
    u, v = _texture_coords(rng, size)
    amp = np.float32(rng.uniform(0.4, 1.0))  # in periods
    tri = np.abs(2 * _frac(v * np.float32(rng.uniform(0.7, 1.5))) - 1)
    return _frac(u + amp * tri) < rng.uniform(0.3, 0.6)


def _painted(paint):
    return lambda rng, size: _object_mask(rng, size, paint)


# class name of the disjoint set -> mask(rng, canvas_size)
_DISJOINT_MASKS = dict(
    ring=_painted(_paint_ring),
    cross=_painted(_paint_cross),
    hexagon=_painted(_paint_hexagon),
    crescent=_painted(_paint_crescent),
    ellipse=_painted(_paint_ellipse),
    arrow=_painted(_paint_arrow),
    stripes=_stripes,
    checkerboard=_checkerboard,
    dots=_dots,
    zigzag=_zigzag)
assert tuple(_DISJOINT_MASKS) == SHAPES_CLS_CLASSES


def class_mask(rng, families, label, size):
    """Sample and rasterise the object (or texture) of one class.

    Args:
        rng (np.random.Generator): Per-image random generator.
        families (str): ``'disjoint'`` or ``'detection'``.
        label (int): Index into ``SHAPES_CLS_FAMILIES[families]``.
        size (int): Canvas side length in pixels.

    Returns:
        np.ndarray: Boolean mask of shape (size, size).
    """
    if families == 'detection':
        return shape_mask(rng, label, size)
    return _DISJOINT_MASKS[SHAPES_CLS_CLASSES[label]](rng, size)


def _check_families(families):
    if families not in SHAPES_CLS_FAMILIES:
        raise ValueError(f'families must be one of '
                         f'{sorted(SHAPES_CLS_FAMILIES)}, got {families!r}')
    return SHAPES_CLS_FAMILIES[families]


def _crop_origin(rng, lo, hi, canvas, size):
    """Origin of a ``size`` window on ``[0, canvas)`` containing the object
    span ``[lo, hi]`` where possible (else centred on it)."""
    first = max(0, hi + 1 - size)
    last = min(lo, canvas - size)
    if first <= last:
        return int(rng.integers(first, last + 1))
    return int(np.clip((lo + hi + 1 - size) // 2, 0, canvas - size))


def render_cls_image(seed,
                     split_id,
                     index,
                     img_size,
                     label,
                     families='disjoint'):
    """Render one classification image of class ``label``.

    Background, pose, fill colour and dark rim come from the detection
    dataset's renderer (:mod:`.shapes`).

    Args:
        seed (int): Dataset seed.
        split_id (int): Split id used in the RNG seed.
        index (int): Image index within the split.
        img_size (int): Side length of the square output image.
        label (int): Index into ``SHAPES_CLS_FAMILIES[families]``.
        families (str): ``'disjoint'`` (default) or ``'detection'``.

    Returns:
        np.ndarray: The uint8 RGB image of shape (img_size, img_size, 3).
    """
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, split_id, index]))
    canvas = img_size * _CANVAS_FACTOR
    img = background(rng, canvas)
    full = class_mask(rng, families, label, canvas)
    if not full.any():  # a degenerate tiny object (img_size near 16)
        full[canvas // 2, canvas // 2] = True
    color = pick_color(rng, img[full].mean(0))
    img[full] = color
    if rng.random() < 0.5:
        rim = inner_boundary(full, int(rng.integers(1, 3)))
        img[rim] = color * np.float32(rng.uniform(0.4, 0.7))
    ys = np.flatnonzero(full.any(1))
    xs = np.flatnonzero(full.any(0))
    y0 = _crop_origin(rng, ys[0], ys[-1], canvas, img_size)
    x0 = _crop_origin(rng, xs[0], xs[-1], canvas, img_size)
    out = img[y0:y0 + img_size, x0:x0 + img_size]
    noise = rng.standard_normal(out.shape, dtype=np.float32)
    out += noise * np.float32(rng.uniform(2, 6))
    np.clip(out, 0, 255, out=out)
    out += np.float32(0.5)  # round half up when truncating
    return out.astype(np.uint8)


def _write_split(out_dir, split, num, seed, img_size, families):
    """Render one split; returns its annotation dict."""
    classes = SHAPES_CLS_FAMILIES[families]
    split_id = SHAPES_CLS_SPLITS[split]
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    data_list = []
    for index in progress(range(num), num, f'shapes_cls/{split}', leave=False):
        label = index % len(classes)
        img = render_cls_image(seed, split_id, index, img_size, label,
                               families)
        name = f'{index:06d}.png'
        Image.fromarray(img).save(
            osp.join(img_dir, name), format='PNG', compress_level=1)
        data_list.append(dict(img_path=name, gt_label=label))
    metainfo = dict(
        classes=list(classes),
        families=families,
        dataset='rethink_mmdet shapes classification',
        split=split,
        seed=int(seed),
        img_size=int(img_size))
    return dict(metainfo=metainfo, data_list=data_list)


def make_shapes_classification(out_dir,
                               num_train=2000,
                               num_val=400,
                               seed=0,
                               img_size=64,
                               families='disjoint'):
    """Generate the shapes classification dataset (the ImageNet stand-in).

    Image ``i`` of a split depends only on ``(seed, split, i)`` (and
    ``families``) and has label ``i % num_classes``, so every split is
    balanced to within one image per class. Existing files with the same
    names are overwritten.

    Args:
        out_dir (str): Output root directory, created if missing.
        num_train (int): Number of training images. Defaults to 2000.
        num_val (int): Number of validation images. Defaults to 400.
        seed (int): Non-negative dataset seed. Defaults to 0.
        img_size (int): Side length of the square RGB images.
            Defaults to 64.
        families (str): The class set. ``'disjoint'`` (default): the
            out-of-domain :data:`SHAPES_CLS_CLASSES` (10 shape families and
            textures absent from the detection data, like ImageNet for
            COCO). ``'detection'``: the detection data's own four
            :data:`~.shapes.SHAPES_CLASSES` (the former, in-domain set).

    Returns:
        dict: Written paths: ``'train_ann'``, ``'val_ann'`` (annotation
        JSON files) and ``'root'`` (``out_dir``).
    """
    _check_families(families)
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
        ann = _write_split(out_dir, split, int(num), int(seed), int(img_size),
                           families)
        dump_json(ann, paths[f'{split}_ann'])
    return paths
