# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The out-of-domain ImageNet stand-in (``shapes_classification``): its
classes are not the detection data's, its files are deterministic and
balanced, every class draws different content, and the pre-training config
trains on its classes."""
import collections
import filecmp
import itertools
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import rethink_mmdet  # noqa: F401  (registers the components)
from mmdet.registry import DATASETS, MODELS
from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.data.shapes_classification import (
    SHAPES_CLS_CLASSES, SHAPES_CLS_FAMILIES, class_mask,
    make_shapes_classification, render_cls_image)
from tests.conftest import REPO

CLS_CONFIG = osp.join(REPO, 'configs', 'shapes',
                      'cls_r18-tiny_gn_shapes-cls.py')
JOINT_FRAGMENT = osp.join(REPO, 'configs', '_base_', 'datasets',
                          'shapes-cls_joint.py')
NUM = len(SHAPES_CLS_CLASSES)
TEXTURES = ('stripes', 'checkerboard', 'dots', 'zigzag')


def _load(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def _files(num_train, num_val):
    return ['annotations/train.json', 'annotations/val.json'] + [
        f'{split}/{i:06d}.png'
        for split, n in (('train', num_train), ('val', num_val))
        for i in range(n)
    ]


def test_classes_are_not_the_detection_classes():
    assert 8 <= NUM <= 10 and len(set(SHAPES_CLS_CLASSES)) == NUM
    assert not set(SHAPES_CLS_CLASSES) & set(SHAPES_CLASSES)
    assert set(TEXTURES) < set(SHAPES_CLS_CLASSES)
    assert SHAPES_CLS_FAMILIES == dict(
        disjoint=SHAPES_CLS_CLASSES, detection=SHAPES_CLASSES)


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    """Three default sets (seeds 0, 0, 1) and a longer seed-0 one."""
    roots = {}
    for name, seed, num_train in (('a', 0, 23), ('b', 0, 23), ('c', 1, 23),
                                  ('long', 0, 31)):
        roots[name] = str(tmp_path_factory.mktemp(name))
        make_shapes_classification(
            roots[name],
            num_train=num_train,
            num_val=7,
            seed=seed,
            img_size=32)
    return roots


def test_deterministic(made):
    _, mismatch, errors = filecmp.cmpfiles(
        made['a'], made['b'], _files(23, 7), shallow=False)
    assert not mismatch and not errors
    # image i depends on (seed, split, i) only, not on the split's size
    _, mismatch, errors = filecmp.cmpfiles(
        made['a'], made['long'], _files(23, 7)[2:], shallow=False)
    assert not mismatch and not errors
    _, mismatch, _ = filecmp.cmpfiles(
        made['a'], made['c'], _files(23, 7)[2:], shallow=False)
    assert len(mismatch) == 30  # another seed: every image differs
    # train and val never share an image
    assert not filecmp.cmp(
        osp.join(made['a'], 'train/000000.png'),
        osp.join(made['a'], 'val/000000.png'),
        shallow=False)


def test_balanced_and_names_written(made):
    for split, num in (('train', 23), ('val', 7)):
        ann = _load(made['a'], split)
        assert ann['metainfo']['classes'] == list(SHAPES_CLS_CLASSES)
        assert ann['metainfo']['families'] == 'disjoint'
        labels = [d['gt_label'] for d in ann['data_list']]
        assert labels == [i % NUM for i in range(num)]
    counts = collections.Counter(
        d['gt_label'] for d in _load(made['long'], 'train')['data_list'])
    assert sorted(counts) == list(range(NUM))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_detection_families_still_available(tmp_path):
    make_shapes_classification(
        str(tmp_path),
        num_train=6,
        num_val=0,
        img_size=32,
        families='detection')
    ann = _load(str(tmp_path), 'train')
    assert ann['metainfo']['classes'] == list(SHAPES_CLASSES)
    assert [d['gt_label'] for d in ann['data_list']] == [0, 1, 2, 3, 0, 1]
    with pytest.raises(ValueError, match='families'):
        make_shapes_classification(str(tmp_path), families='imagenet')


def _masks(seed=0, size=128):
    """The mask of every class drawn from the same RNG state."""
    return {
        name: class_mask(np.random.default_rng(seed), 'disjoint', i, size)
        for i, name in enumerate(SHAPES_CLS_CLASSES)
    }


@pytest.mark.parametrize('seed', range(6))
def test_class_content_differs(seed):
    masks = _masks(seed)
    for name, mask in masks.items():
        assert mask.shape == (128, 128) and mask.any(), name
    for (n1, m1), (n2, m2) in itertools.combinations(masks.items(), 2):
        assert not np.array_equal(m1, m2), (n1, n2)
    # same pose for the detection families, different shapes
    for i in range(len(SHAPES_CLASSES)):
        det = class_mask(np.random.default_rng(seed), 'detection', i, 128)
        assert not any(np.array_equal(det, m) for m in masks.values())
    # textures fill the canvas (both colours in every 32 px tile, the
    # period being at most 0.15 * 128 px); an object (diameter at most
    # 0.4 * 128 px) misses some tile
    for name, mask in masks.items():
        tiles = mask.reshape(4, 32, 4, 32).transpose(0, 2, 1, 3)
        tiles = tiles.reshape(16, -1)
        filled = bool(np.all(tiles.any(1) & ~tiles.all(1)))
        assert filled == (name in TEXTURES), name
        if name not in TEXTURES:
            assert 0.005 < mask.mean() < 0.6, name


def test_ring_has_a_hole_and_images_differ_per_class():
    ring = SHAPES_CLS_CLASSES.index('ring')
    for seed in range(5):
        mask = class_mask(np.random.default_rng(seed), 'disjoint', ring, 128)
        ys, xs = np.nonzero(mask)
        cy, cx = int(ys.mean().round()), int(xs.mean().round())
        assert not mask[cy, cx]  # the centre of mass is in the hole
    imgs = [render_cls_image(0, 100, 0, 32, i) for i in range(NUM)]
    assert all(img.shape == (32, 32, 3) and img.dtype == np.uint8
               for img in imgs)
    for a, b in itertools.combinations(imgs, 2):
        assert not np.array_equal(a, b)


def test_dataset_reads_the_class_names(made, tmp_path):
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = DATASETS.build(
            dict(
                type='ShapesClsDataset',
                data_root=made['a'],
                ann_file='annotations/train.json',
                data_prefix=dict(img_path='train/')))
        assert ds.metainfo['classes'] == SHAPES_CLS_CLASSES
        assert ds.get_cat_ids(NUM - 1) == [NUM - 1]
        make_shapes_classification(
            str(tmp_path),
            num_train=4,
            num_val=0,
            img_size=16,
            families='detection')
        det = DATASETS.build(
            dict(
                type='ShapesClsDataset',
                data_root=str(tmp_path),
                ann_file='annotations/train.json'))
        assert det.metainfo['classes'] == SHAPES_CLASSES


def test_configs_have_the_class_count():
    cfg = Config.fromfile(CLS_CONFIG)
    assert cfg.model.num_classes == NUM
    model = MODELS.build(cfg.model)
    assert model.head.out_features == NUM
    frag = Config.fromfile(JOINT_FRAGMENT)
    assert frag.shapes_cls_joint_num_classes == NUM
