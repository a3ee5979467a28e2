# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Deterministic, exact-size subsets of a COCO-format annotation file.

He et al. 2019 (the "less data" runs on 35k, 10k, 3.5k and 1k COCO images) and
Zoph et al. 2020 (20% and 50% of COCO labels) train on random subsets of COCO
train2017. :func:`make_subset` draws such a subset so that it is the same on
every machine and every distributed rank:

- exactly ``num_images`` images (or ``round(fraction * total)``, see below),
  sampled **without replacement** by
  ``numpy.random.Generator(PCG64(seed)).choice(n, num_images,
  replace=False)`` over the image ids **sorted ascending**, so the result does
  not depend on the order of the images in the JSON file nor on any global
  random state;
- the subset file keeps every annotation of a chosen image and none of the
  others, and every other top-level entry (``categories``, ``info``,
  ``licenses``, ...) unchanged;
- optionally the complementary images are written as an image-only file (no
  ``annotations`` key, the form of COCO ``image_info_unlabeled2017.json``),
  the unlabeled set of a semi-supervised or self-training split;
- the chosen image ids are written next to the subset, one per line, sorted
  (``out.json`` -> ``out.ids.txt``);
- all JSON is written with sorted keys, compact separators, images sorted by
  id and annotations by ``(image_id, id)``, so the same input and seed give
  byte-identical files (numpy does not promise the same ``Generator`` stream
  across every future release; the ids file records the draw).

``fraction`` is turned into a count by rounding ``fraction * total`` to the
nearest integer, halves up, computed exactly on the decimal value of
``fraction`` (20% of 37 images -> 7.4 -> 7; 50% of 5 -> 2.5 -> 3).

Note: MMDetection's ``tools/misc/split_coco.py`` (v3.3) draws
``np.random.choice(range(n), size=int(percent / 100 * n))`` *with*
replacement, truncates instead of rounding and indexes the JSON order, so
asking for 20% of COCO gives about 18% (1 - e^-0.2) distinct images, 50%
about 39%.
"""
import json
import math
import numbers
import os.path as osp
from fractions import Fraction

import numpy as np

from rethink_mmdet.utils import dump_json, is_int

__all__ = ['make_subset', 'subset_ids_path', 'num_images_from_fraction']


def subset_ids_path(out_file):
    """Path of the ids file written next to a subset JSON.

    Args:
        out_file (str): Path of the subset JSON.

    Returns:
        str: ``out_file`` with its extension replaced by ``.ids.txt``
        (``a/b.json`` -> ``a/b.ids.txt``).
    """
    return osp.splitext(out_file)[0] + '.ids.txt'


def num_images_from_fraction(fraction, total):
    """Number of images a fraction of a dataset asks for.

    Args:
        fraction (float): Fraction of the images, in (0, 1].
        total (int): Number of images in the dataset.

    Returns:
        int: ``fraction * total`` rounded to the nearest integer, halves up,
        computed exactly on the decimal value of ``fraction``.

    Raises:
        ValueError: If ``fraction`` is outside (0, 1] or rounds to 0 images.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise ValueError(f'fraction must be a number in (0, 1], got '
                         f'{fraction!r}.')
    if not 0 < fraction <= 1:
        raise ValueError(
            f'fraction={fraction!r} is outside (0, 1]: pass the fraction of '
            'images to keep, e.g. 0.2 for 20%.')
    # str() gives the shortest decimal of the float, i.e. what the user typed,
    # so 0.35 * 90 is exactly 31.5 -> 32 rather than 31.4999... -> 31.
    num = math.floor(Fraction(str(float(fraction))) * total + Fraction(1, 2))
    if num < 1:
        raise ValueError(
            f'fraction={fraction!r} of {total} images rounds to 0 images; '
            'ask for a larger fraction or pass num_images.')
    return num


def make_subset(ann_file,
                out_file,
                num_images=None,
                fraction=None,
                seed=0,
                rest_file=None):
    """Write a random subset of a COCO annotation file, without replacement.

    Exactly one of ``num_images`` and ``fraction`` must be given. See the
    module docstring for the sampling rule and the output format.

    Args:
        ann_file (str): Input COCO-format JSON with ``images`` (each with a
            unique ``id``) and usually ``annotations``.
        out_file (str): Output subset JSON. Its ids file is
            :func:`subset_ids_path` ``(out_file)``.
        num_images (int, optional): Number of images to keep, in
            [1, number of images]. Defaults to None.
        fraction (float, optional): Fraction of images to keep, in (0, 1];
            rounded with :func:`num_images_from_fraction`. Defaults to None.
        seed (int): Non-negative seed of the ``PCG64`` generator.
            Defaults to 0.
        rest_file (str, optional): If given, the complementary images are
            written there as an image-only JSON (no ``annotations`` key).
            Defaults to None.

    Returns:
        dict: ``'num_images'``, ``'num_annotations'`` (of the subset),
        ``'num_rest'`` (complementary images), ``'num_total'`` (images in
        ``ann_file``), ``'seed'``, ``'out_file'``, ``'ids_file'`` and
        ``'rest_file'`` (None when not written).

    Raises:
        FileNotFoundError: If ``ann_file`` does not exist.
        ValueError: On a bad count, fraction or seed, both or neither of
            ``num_images``/``fraction``, an input without ``images``, with
            duplicate image ids, or an output path equal to the input.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'make_subset: annotation file {ann_file!r} does not exist.')
    if (num_images is None) == (fraction is None):
        raise ValueError('make_subset: pass exactly one of num_images and '
                         f'fraction (got num_images={num_images!r}, '
                         f'fraction={fraction!r}).')
    if not is_int(seed) or seed < 0:
        raise ValueError(f'make_subset: seed must be a non-negative integer, '
                         f'got {seed!r}.')
    outputs = [
        osp.abspath(p)
        for p in (out_file, subset_ids_path(out_file), rest_file)
        if p is not None
    ]
    if osp.abspath(ann_file) in outputs or len(set(outputs)) < len(outputs):
        raise ValueError(
            f'make_subset: output paths {outputs} must differ from each '
            f'other and from the input {ann_file!r}.')

    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list):
        raise ValueError(f'make_subset: {ann_file!r} is not a COCO-format '
                         'file: it has no "images" list.')
    images = {}
    for img in coco['images']:
        if img['id'] in images:
            raise ValueError(f'make_subset: {ann_file!r} has image id '
                             f'{img["id"]!r} more than once.')
        images[img['id']] = img
    total = len(images)

    if fraction is not None:
        num_images = num_images_from_fraction(fraction, total)
    elif not is_int(num_images):
        raise ValueError(f'make_subset: num_images must be an integer, got '
                         f'{num_images!r}.')
    num_images = int(num_images)
    if num_images < 1:
        raise ValueError(
            f'make_subset: num_images={num_images}, but a subset needs at '
            'least 1 image.')
    if num_images > total:
        raise ValueError(
            f'make_subset: num_images={num_images}, but {ann_file!r} has '
            f'only {total} images; sampling is without replacement.')

    # Sorted ids make the draw independent of the JSON order.
    sorted_ids = sorted(images)
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    picked = rng.choice(total, size=num_images, replace=False)
    chosen_ids = sorted(sorted_ids[i] for i in picked.tolist())
    chosen = set(chosen_ids)
    rest_ids = [i for i in sorted_ids if i not in chosen]

    subset = {k: v for k, v in coco.items() if k != 'images'}
    subset['images'] = [images[i] for i in chosen_ids]
    annotations = None
    if 'annotations' in coco:
        rank = {img_id: r for r, img_id in enumerate(chosen_ids)}
        annotations = [
            a for a in coco['annotations'] if a['image_id'] in chosen
        ]
        annotations.sort(key=lambda a: (rank[a['image_id']], a.get('id', 0)))
        subset['annotations'] = annotations

    dump_json(subset, out_file)
    ids_file = subset_ids_path(out_file)
    with open(ids_file, 'w', encoding='utf-8') as f:
        f.writelines(f'{i}\n' for i in chosen_ids)
    if rest_file is not None:
        rest = {
            k: v
            for k, v in coco.items() if k not in ('images', 'annotations')
        }
        rest['images'] = [images[i] for i in rest_ids]
        dump_json(rest, rest_file)

    return dict(
        num_images=len(chosen_ids),
        num_annotations=0 if annotations is None else len(annotations),
        num_rest=len(rest_ids),
        num_total=total,
        seed=int(seed),
        out_file=out_file,
        ids_file=ids_file,
        rest_file=rest_file)
