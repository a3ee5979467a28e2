# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests for deterministic COCO subsets (``rethink_mmdet.data.subset`` and
``tools/make_subset.py``)."""
import json
import os.path as osp
import random
import subprocess
import sys

import pytest

from rethink_mmdet.data.subset import make_subset, subset_ids_path

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'make_subset.py')


def _write_coco(path, num_images=37, shuffle_seed=None):
    """A small COCO file: image ids 10, 13, 16, ...; image ``k`` has ``k % 4``
    annotations (so some images have none); an id without an image."""
    images = [
        dict(id=10 + 3 * k, file_name=f'{k:06d}.png', width=64, height=48)
        for k in range(num_images)
    ]
    anns = []
    for k, img in enumerate(images):
        for j in range(k % 4):
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img['id'],
                    category_id=1 + j % 2,
                    bbox=[1, 2, 3, 4],
                    area=12,
                    iscrowd=0))
    coco = dict(
        info=dict(description='test'),
        licenses=[dict(id=1, name='x')],
        categories=[dict(id=1, name='a'),
                    dict(id=2, name='b')],
        images=images,
        annotations=anns)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(coco['images'])
        random.Random(shuffle_seed + 1).shuffle(coco['annotations'])
    with open(path, 'w') as f:
        json.dump(coco, f, indent=1)
    return coco


def _load(path):
    with open(path) as f:
        return json.load(f)


def _read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture
def coco_file(tmp_path):
    path = str(tmp_path / 'instances.json')
    coco = _write_coco(path)
    return path, coco


def test_exact_count_without_replacement_and_complement(coco_file, tmp_path):
    ann, coco = coco_file
    out, rest = str(tmp_path / 'sub.json'), str(tmp_path / 'rest.json')
    info = make_subset(ann, out, num_images=20, seed=3, rest_file=rest)
    sub, rest_js = _load(out), _load(rest)

    ids = [img['id'] for img in sub['images']]
    rest_ids = [img['id'] for img in rest_js['images']]
    all_ids = {img['id'] for img in coco['images']}
    assert len(ids) == 20 and len(set(ids)) == 20  # no duplicates
    assert len(rest_ids) == 17 and len(set(rest_ids)) == 17
    assert set(ids) | set(rest_ids) == all_ids
    assert not set(ids) & set(rest_ids)
    assert ids == sorted(ids)

    # Every annotation of a chosen image, none of the others.
    expected_anns = [a for a in coco['annotations'] if a['image_id'] in ids]
    assert sorted(a['id'] for a in sub['annotations']) == sorted(
        a['id'] for a in expected_anns)
    assert all(a['image_id'] in ids for a in sub['annotations'])
    # Other entries kept; the rest is image-only, like image_info_*.json.
    for key in ('info', 'licenses', 'categories'):
        assert sub[key] == coco[key] and rest_js[key] == coco[key]
    assert 'annotations' not in rest_js

    with open(subset_ids_path(out)) as f:
        assert [int(line) for line in f] == ids
    assert subset_ids_path(out) == str(tmp_path / 'sub.ids.txt')
    assert info == dict(
        num_images=20,
        num_annotations=len(expected_anns),
        num_rest=17,
        num_total=37,
        seed=3,
        out_file=out,
        ids_file=str(tmp_path / 'sub.ids.txt'),
        rest_file=rest)


def test_same_seed_byte_identical_different_seed_differs(coco_file, tmp_path):
    ann, _ = coco_file
    paths = {}
    for name, seed in (('a', 5), ('b', 5), ('c', 6)):
        out = str(tmp_path / f'{name}.json')
        rest = str(tmp_path / f'{name}_rest.json')
        make_subset(ann, out, num_images=10, seed=seed, rest_file=rest)
        paths[name] = (out, rest, subset_ids_path(out))
    for pa, pb in zip(paths['a'], paths['b']):
        assert _read_bytes(pa) == _read_bytes(pb)
    # Canonical JSON: sorted keys, compact separators, one trailing newline.
    for path in paths['a'][:2]:
        canonical = json.dumps(
            _load(path), sort_keys=True, separators=(',', ':')) + '\n'
        assert _read_bytes(path) == canonical.encode()
    assert _read_bytes(paths['a'][2]) != _read_bytes(paths['c'][2])


def test_json_order_does_not_matter(tmp_path):
    ordered = str(tmp_path / 'ordered.json')
    shuffled = str(tmp_path / 'shuffled.json')
    coco = _write_coco(ordered)
    shuffled_coco = _write_coco(shuffled, shuffle_seed=1)
    assert coco['images'] != shuffled_coco['images']  # really shuffled
    outs = []
    for src in (ordered, shuffled):
        out = str(tmp_path / f'out_{osp.basename(src)}')
        rest = str(tmp_path / f'rest_{osp.basename(src)}')
        make_subset(src, out, fraction=0.5, seed=0, rest_file=rest)
        outs.append((out, rest))
    # Same subset, and even the same bytes (images/annotations sorted).
    for pa, pb in zip(*outs):
        assert _read_bytes(pa) == _read_bytes(pb)


def test_sampling_uses_sorted_ids_and_pcg64(coco_file, tmp_path):
    """The documented rule, re-derived independently."""
    import numpy as np
    ann, coco = coco_file
    out = str(tmp_path / 'sub.json')
    make_subset(ann, out, num_images=9, seed=11)
    sorted_ids = sorted(img['id'] for img in coco['images'])
    rng = np.random.Generator(np.random.PCG64(11))
    expected = sorted(sorted_ids[i]
                      for i in rng.choice(37, size=9, replace=False))
    assert [img['id'] for img in _load(out)['images']] == expected


@pytest.mark.parametrize(
    'fraction, total, expected',
    [
        (0.2, 37, 7),  # 7.4 -> 7
        (0.5, 37, 19),  # 18.5 -> 19 (halves up)
        (0.35, 90, 32),  # 31.5 exactly -> 32, although 0.35 * 90 == 31.4999...
        (1.0, 37, 37),
        (0.02, 37, 1),  # 0.74 -> 1
    ])
def test_fraction_rounding(tmp_path, fraction, total, expected):
    ann = str(tmp_path / 'in.json')
    _write_coco(ann, num_images=total)
    info = make_subset(ann, str(tmp_path / 'o.json'), fraction=fraction)
    assert info['num_images'] == expected
    assert len(_load(str(tmp_path / 'o.json'))['images']) == expected


@pytest.mark.parametrize('kwargs, exc, match', [
    (dict(num_images=38), ValueError, 'only 37 images'),
    (dict(num_images=0), ValueError, 'at least 1 image'),
    (dict(num_images=2.5), ValueError, 'must be an integer'),
    (dict(fraction=0.0), ValueError, r'outside \(0, 1\]'),
    (dict(fraction=1.2), ValueError, r'outside \(0, 1\]'),
    (dict(fraction=0.01), ValueError, 'rounds to 0 images'),
    (dict(), ValueError, 'exactly one of'),
    (dict(num_images=3, fraction=0.5), ValueError, 'exactly one of'),
    (dict(num_images=3, seed=-1), ValueError, 'non-negative'),
])
def test_errors(coco_file, tmp_path, kwargs, exc, match):
    ann, _ = coco_file
    with pytest.raises(exc, match=match):
        make_subset(ann, str(tmp_path / 'o.json'), **kwargs)


def test_error_missing_file_duplicates_and_same_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        make_subset(
            str(tmp_path / 'nope.json'),
            str(tmp_path / 'o.json'),
            num_images=1)
    dup = str(tmp_path / 'dup.json')
    with open(dup, 'w') as f:
        json.dump(dict(images=[dict(id=1), dict(id=1)]), f)
    with pytest.raises(ValueError, match='more than once'):
        make_subset(dup, str(tmp_path / 'o.json'), num_images=1)
    with pytest.raises(ValueError, match='must differ'):
        make_subset(dup, dup, num_images=1)


def test_image_only_input(tmp_path):
    """An image-only file (e.g. unlabeled2017 image_info) can be split."""
    src = str(tmp_path / 'unlabeled.json')
    with open(src, 'w') as f:
        json.dump(
            dict(images=[dict(id=i) for i in range(8)], categories=[]), f)
    out = str(tmp_path / 'o.json')
    info = make_subset(src, out, num_images=3)
    assert info['num_annotations'] == 0
    assert 'annotations' not in _load(out)


def test_on_shapes_dataset(tmp_path):
    from rethink_mmdet.data.shapes import make_shapes
    paths = make_shapes(
        str(tmp_path / 'shapes'),
        num_train=10,
        num_val=0,
        num_unlabeled=0,
        seed=0,
        image_size=64)
    out = str(tmp_path / 'sub.json')
    make_subset(paths['train_ann'], out, fraction=0.5, seed=0)
    from pycocotools.coco import COCO
    sub = COCO(out)
    full = COCO(paths['train_ann'])
    assert len(sub.getImgIds()) == 5
    for img_id in sub.getImgIds():
        assert sorted(sub.getAnnIds(imgIds=[img_id])) == sorted(
            full.getAnnIds(imgIds=[img_id]))


def test_cli(coco_file, tmp_path):
    ann, _ = coco_file
    out = str(tmp_path / 'cli' / 'sub.json')
    rest = str(tmp_path / 'cli' / 'rest.json')
    proc = subprocess.run([
        sys.executable, TOOL, ann, '--fraction', '0.2', '--seed', '4', '--out',
        out, '--rest-out', rest
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'subset: 7 of 37 images' in proc.stdout
    assert len(_load(out)['images']) == 7
    assert len(_load(rest)['images']) == 30
    # Same result as the library call.
    lib_out = str(tmp_path / 'lib.json')
    make_subset(ann, lib_out, fraction=0.2, seed=4)
    assert _read_bytes(lib_out) == _read_bytes(out)

    bad = subprocess.run([
        sys.executable, TOOL, ann, '--num-images', '99', '--seed', '0',
        '--out',
        str(tmp_path / 'x.json')
    ],
                         cwd=REPO_ROOT,
                         capture_output=True,
                         text=True)
    assert bad.returncode == 1
    assert 'only 37 images' in bad.stderr
    assert not osp.exists(str(tmp_path / 'x.json'))


def test_coco_subset_dataset_checks_the_label_share(coco_file, tmp_path):
    """CocoSubsetDataset accepts the file make_subset draws for its
    label_fraction (20% of 37 -> 7 images) and refuses the full file or
    another share, naming the file, the counts and the fix."""
    from mmdet.registry import DATASETS
    from rethink_mmdet.data import CocoSubsetDataset, LabelShareError
    src, _ = coco_file
    sub = str(tmp_path / 'sub.json')
    make_subset(src, sub, fraction=0.2, seed=1)

    def build(ann_file, fraction):
        return DATASETS.build(
            dict(
                type='CocoSubsetDataset',
                ann_file=ann_file,
                label_fraction=fraction,
                full_size=37,
                metainfo=dict(classes=('a', 'b')),
                data_prefix=dict(img=''),
                filter_cfg=dict(filter_empty_gt=False),
                pipeline=[]))

    assert isinstance(build(sub, 0.2), CocoSubsetDataset)
    assert len(build(sub, 0.2)) == 7
    assert len(build(src, 1.0)) == 37
    assert len(build(src, None)) == 37  # no check
    for ann_file, fraction in ((src, 0.2), (sub, 0.5), (sub, 1.0)):
        with pytest.raises(LabelShareError) as err:
            build(ann_file, fraction)
        text = str(err.value)
        assert ann_file in text and f'label_fraction={fraction}' in text
        assert 'tools/make_subset.py --fraction' in text
