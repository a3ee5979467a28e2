# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests for the synthetic ``shapes`` dataset generator."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from rethink_mmdet.data import shapes

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES_CLASSES = shapes.SHAPES_CLASSES
make_shapes = shapes.make_shapes

SIZE = 128
SMALL = dict(num_train=6, num_val=4, num_unlabeled=3, image_size=SIZE)


def _hash_tree(root):
    """Map every file path (relative to ``root``) to its sha256."""
    digests = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                digests[osp.relpath(path, root)] = hashlib.sha256(
                    f.read()).hexdigest()
    return digests


def _load(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('shapes')
    paths = make_shapes(str(out), seed=0, **SMALL)
    return paths


def test_layout_and_return_value(dataset):
    root = dataset['root']
    assert set(dataset) == {
        'train_ann', 'val_ann', 'unlabeled_ann', 'unlabeled_gt', 'root'
    }
    assert dataset['train_ann'] == osp.join(root, 'annotations',
                                            'instances_train.json')
    assert dataset['val_ann'] == osp.join(root, 'annotations',
                                          'instances_val.json')
    assert dataset['unlabeled_ann'] == osp.join(root, 'annotations',
                                                'image_info_unlabeled.json')
    assert dataset['unlabeled_gt'] == osp.join(
        root, 'annotations', 'instances_unlabeled_hidden.json')
    for split, num in (('train', 6), ('val', 4), ('unlabeled', 3)):
        files = sorted(os.listdir(osp.join(root, split)))
        assert files == [f'{i:06d}.png' for i in range(num)]
        for name in files:
            with Image.open(osp.join(root, split, name)) as img:
                assert img.mode == 'RGB'
                assert img.size == (SIZE, SIZE)


def test_determinism(tmp_path):
    a = _hash_tree(make_shapes(str(tmp_path / 'a'), seed=3, **SMALL)['root'])
    b = _hash_tree(make_shapes(str(tmp_path / 'b'), seed=3, **SMALL)['root'])
    c = _hash_tree(make_shapes(str(tmp_path / 'c'), seed=4, **SMALL)['root'])
    assert len(a) == 6 + 4 + 3 + 4
    assert a == b
    assert set(a) == set(c)
    # a different seed changes every image and the annotation files
    for name, digest in a.items():
        if name.endswith('.png') or 'instances' in name:
            assert c[name] != digest, name


def test_prefix_property(tmp_path):
    small = make_shapes(
        str(tmp_path / 'small'),
        num_train=2,
        num_val=1,
        num_unlabeled=1,
        seed=7,
        image_size=SIZE)
    big = make_shapes(
        str(tmp_path / 'big'),
        num_train=5,
        num_val=3,
        num_unlabeled=2,
        seed=7,
        image_size=SIZE)
    for split, num in (('train', 2), ('val', 1), ('unlabeled', 1)):
        for i in range(num):
            name = f'{i:06d}.png'
            with open(osp.join(small['root'], split, name), 'rb') as f1, \
                    open(osp.join(big['root'], split, name), 'rb') as f2:
                assert f1.read() == f2.read(), (split, name)
    # the annotations of the shared images agree (ids aside)
    for key in ('train_ann', 'val_ann'):
        s, b = _load(small[key]), _load(big[key])
        s_ids = {img['id'] for img in s['images']}
        strip = [{
            k: v
            for k, v in ann.items() if k != 'id'
        } for ann in b['annotations'] if ann['image_id'] in s_ids]
        assert strip == [{
            k: v
            for k, v in ann.items() if k != 'id'
        } for ann in s['annotations']]
        assert len(b['annotations']) > len(s['annotations'])


def test_pycocotools_loading(dataset):
    expected_cats = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(SHAPES_CLASSES)
    ]
    assert SHAPES_CLASSES == ('circle', 'triangle', 'square', 'star')
    all_img_ids = []
    for key, num, first_id in (('train_ann', 6, 1), ('val_ann', 4, 1_000_001)):
        coco = COCO(dataset[key])
        assert sorted(coco.getImgIds()) == list(
            range(first_id, first_id + num))
        assert coco.loadCats(coco.getCatIds()) == expected_cats
        assert len(coco.getAnnIds()) > 0
        raw = _load(dataset[key])
        assert raw['licenses'] == []
        assert isinstance(raw['info'], dict)
        assert not any('date' in k or 'time' in k for k in raw['info'])
        for img in raw['images']:
            assert img['file_name'] == f'{img["id"] - first_id:06d}.png'
            assert (img['width'], img['height']) == (SIZE, SIZE)
        all_img_ids += coco.getImgIds()
    unl = _load(dataset['unlabeled_ann'])
    assert 'annotations' not in unl
    assert unl['categories'] == expected_cats
    unl_ids = [img['id'] for img in unl['images']]
    assert unl_ids == [2_000_001, 2_000_002, 2_000_003]
    assert [img['file_name'] for img in unl['images']
            ] == ['000000.png', '000001.png', '000002.png']
    all_img_ids += unl_ids
    assert len(set(all_img_ids)) == len(all_img_ids)


def test_unlabeled_hidden_ground_truth(dataset, tmp_path):
    """The unlabeled split's ground truth is a separate file: the same
    images as the image-only file, with annotations rendered exactly as a
    labeled split's (the same image rendered as "train" of a dataset with
    another seed offset would differ, so compare with a rendering of the
    unlabeled split itself: its masks are those of the images' pixels)."""
    info = _load(dataset['unlabeled_ann'])
    hidden = _load(dataset['unlabeled_gt'])
    assert 'annotations' not in info
    assert hidden['images'] == info['images']
    assert hidden['categories'] == info['categories']
    coco = COCO(dataset['unlabeled_gt'])
    assert sorted(coco.getImgIds()) == [2_000_001, 2_000_002, 2_000_003]
    anns = hidden['annotations']
    assert len({a['id'] for a in anns}) == len(anns) >= 3
    assert {a['image_id'] for a in anns} == {2_000_001, 2_000_002, 2_000_003}
    # a larger dataset of the same seed: its first unlabeled images carry
    # the same annotations (ids aside), so they belong to these pixels
    big = make_shapes(
        str(tmp_path / 'big'), seed=0, **dict(SMALL, num_unlabeled=4))
    big_anns = [{
        k: v
        for k, v in a.items() if k != 'id'
    } for a in _load(big['unlabeled_gt'])['annotations']
                if a['image_id'] <= 2_000_003]
    assert big_anns == [{
        k: v
        for k, v in a.items() if k != 'id'
    } for a in anns]
    # they are the instances of the written pixels: re-render each image
    root = dataset['root']
    for img in hidden['images']:
        index = img['id'] - 2_000_001
        pixels, objs = shapes._render_image(0, 2, index, SIZE)
        with Image.open(osp.join(root, 'unlabeled', img['file_name'])) as f:
            assert np.array_equal(np.asarray(f), pixels)
        areas = [a['area'] for a in anns if a['image_id'] == img['id']]
        assert areas == [float(vis.sum()) for _, vis in objs]


def test_masks_match_boxes(dataset):
    widths, heights, num_anns, num_imgs = [], [], 0, 0
    ann_ids = set()
    for key in ('train_ann', 'val_ann'):
        raw = _load(dataset[key])
        img_ids = {img['id'] for img in raw['images']}
        num_imgs += len(img_ids)
        per_image = {i: 0 for i in img_ids}
        for ann in raw['annotations']:
            assert ann['id'] not in ann_ids
            ann_ids.add(ann['id'])
            assert ann['image_id'] in img_ids
            per_image[ann['image_id']] += 1
            assert ann['iscrowd'] == 0
            assert 1 <= ann['category_id'] <= len(SHAPES_CLASSES)
            seg = ann['segmentation']
            assert isinstance(seg['counts'], str)
            assert seg['size'] == [SIZE, SIZE]
            rle = dict(size=seg['size'], counts=seg['counts'].encode())
            m = mask_utils.decode(rle).astype(bool)
            assert m.shape == (SIZE, SIZE)  # within the image
            assert isinstance(ann['area'], float)
            assert ann['area'] == float(m.sum())
            assert ann['area'] >= 30
            ys, xs = np.nonzero(m)
            tight = [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            assert all(isinstance(v, float) for v in ann['bbox'])
            np.testing.assert_allclose(ann['bbox'], tight, atol=1)
            x, y, w, h = ann['bbox']
            assert x >= 0 and y >= 0 and x + w <= SIZE and y + h <= SIZE
            widths.append(w)
            heights.append(h)
        num_anns += sum(per_image.values())
        # 2..6 objects are drawn; occluded ones may be dropped
        assert max(per_image.values()) <= 6
    assert num_anns / num_imgs >= 1.5
    # object sizes vary (0.1 .. 0.4 of the image, plus rotation/occlusion)
    assert max(widths) - min(widths) >= 0.1 * SIZE
    assert max(heights) - min(heights) >= 0.1 * SIZE
    assert min(max(widths), max(heights)) <= 0.45 * SIZE + 1


def test_visible_masks_do_not_overlap(dataset):
    raw = _load(dataset['train_ann'])
    for img in raw['images']:
        anns = [a for a in raw['annotations'] if a['image_id'] == img['id']]
        union = np.zeros((SIZE, SIZE), dtype=np.int32)
        for ann in anns:
            seg = ann['segmentation']
            union += mask_utils.decode(
                dict(size=seg['size'], counts=seg['counts'].encode()))
        assert union.max() <= 1


def test_images_are_textured_and_objects_contrast(dataset):
    raw = _load(dataset['train_ann'])
    root = dataset['root']
    checked = 0
    for img in raw['images']:
        arr = np.asarray(
            Image.open(osp.join(root, 'train', img['file_name'])),
            dtype=np.float32)
        fg = np.zeros((SIZE, SIZE), dtype=bool)
        anns = [a for a in raw['annotations'] if a['image_id'] == img['id']]
        for ann in anns:
            seg = ann['segmentation']
            m = mask_utils.decode(
                dict(size=seg['size'], counts=seg['counts'].encode()))
            fg |= m.astype(bool)
        # textured: not a flat colour
        assert arr[~fg].std(0).max() > 3
        # the object pixels differ clearly from the nearby background
        for ann in anns:
            seg = ann['segmentation']
            m = mask_utils.decode(
                dict(size=seg['size'], counts=seg['counts'].encode()))
            obj_color = np.median(arr[m.astype(bool)], axis=0)
            x, y, w, h = (int(v) for v in ann['bbox'])
            near = np.zeros((SIZE, SIZE), dtype=bool)
            near[max(y - 4, 0):y + h + 4, max(x - 4, 0):x + w + 4] = True
            near &= ~fg
            if near.sum() < 10:
                continue
            assert np.linalg.norm(obj_color - arr[near].mean(0)) > 30
            checked += 1
    assert checked >= len(raw['images'])


def test_cli(tmp_path):
    out = tmp_path / 'cli'
    proc = subprocess.run([
        sys.executable,
        osp.join('tools', 'make_shapes.py'), '--out',
        str(out), '--train', '3', '--val', '2', '--unlabeled', '2', '--seed',
        '1', '--image-size', '64'
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'train: 3 images' in proc.stdout
    assert 'val: 2 images' in proc.stdout
    assert 'unlabeled: 2 images' in proc.stdout
    assert 'unlabeled (hidden ground truth): 2 images' in proc.stdout
    assert 'instances' in proc.stdout
    for rel in ('annotations/instances_train.json',
                'annotations/instances_val.json',
                'annotations/image_info_unlabeled.json',
                'annotations/instances_unlabeled_hidden.json',
                'train/000002.png', 'val/000001.png', 'unlabeled/000001.png'):
        assert (out / rel).is_file(), rel
    train = _load(out / 'annotations' / 'instances_train.json')
    assert len(train['images']) == 3
    assert train['images'][0]['width'] == 64
    assert f'{len(train["annotations"])} instances' in proc.stdout


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        make_shapes(str(tmp_path), num_train=-1)
    with pytest.raises(ValueError):
        make_shapes(str(tmp_path), image_size=8)
