"""PseudoLabelDataset: a pseudo-label store served as CocoDataset samples.

Stores are built with the store API (``write_chunk`` + ``finalize_store``)
over real shapes images; CocoDataset reads the same labels exported as COCO
JSON (``export_coco``) and must give the same data infos and, through a real
mmdet train pipeline, the same packed samples.
"""
import json
import logging
import os
import os.path as osp
import pickle
import shutil
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from pycocotools import mask as mask_utils

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from rethink_mmdet.data import SHAPES_CLASSES, make_shapes
from rethink_mmdet.self_training.dataset import PseudoLabelDataset
from rethink_mmdet.self_training.store import (PseudoLabelStoreError,
                                               export_coco, finalize_store,
                                               write_chunk,
                                               write_chunk_columns)
from tests.conftest import RETINANET, python_tool, run_tool, short_run_options

SIZE = 128
FLOOR = 0.3
NAN = float('nan')
# (score, teacher label, box) of the 6 unlabeled images
BOXES = [
    [(0.9, 0, [10, 10, 50, 60]), (0.6, 1, [20, 30, 80, 90]),
     (0.35, 2, [5, 5, 40, 40])],
    [],  # an image the teacher found nothing in
    [
        (0.95, 0, [NAN, 10, 30, 30]),  # invalid: NaN
        (0.9, 1, [40, 40, 40, 70]),  # invalid: zero width
        (0.7, 3, [60, 60, 100, 110])
    ],
    [
        (0.99, 2, [10, 10, 10.5, 50]),  # < 1 px wide: CocoDataset drops it
        (0.8, 1, [130, 10, 150, 40]),  # outside the image: dropped
        (0.55, 0, [100, 100, 140, 140])
    ],  # partly outside: kept, not clipped
    [(0.4, 3, [30, 30, 60, 60])],
    [(0.8, 3, [0, 0, 128, 128]), (0.5, 2, [64, 0, 128, 64])],  # 0.5 kept
]
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='PackDetInputs'),
]


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    """Pipelines resolve ``LoadAnnotations`` etc. in mmdet's registries."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')


def rect_rle(box, h, w):
    """Compressed-RLE counts of the box's rectangle (empty if invalid)."""
    m = np.zeros((h, w), np.uint8)
    if np.all(np.isfinite(box)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        m[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = 1
    return mask_utils.encode(np.asfortranarray(m))['counts'].decode()


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('pl_shapes'))
    make_shapes(
        root,
        num_train=0,
        num_val=2,
        num_unlabeled=len(BOXES),
        seed=0,
        image_size=SIZE)
    with open(osp.join(root, 'annotations', 'image_info_unlabeled.json')) as f:
        images = json.load(f)['images']
    return root, images


def build_store(store_dir, images, boxes=BOXES, masks=True, **meta):
    records = []
    for img, dets in zip(images, boxes):
        h, w = img['height'], img['width']
        records.append(
            dict(
                path=img['file_name'],
                image_id=img['id'],
                height=h,
                width=w,
                boxes=np.array([d[2] for d in dets],
                               np.float32).reshape(-1, 4),
                scores=np.array([d[0] for d in dets], np.float32),
                labels=np.array([d[1] for d in dets], np.int64),
                masks_rle=[rect_rle(d[2], h, w)
                           for d in dets] if masks else None))
    write_chunk(store_dir, 0, 0, records[:3])
    write_chunk(store_dir, 1, 3, records[3:])
    full = dict(
        classes=list(SHAPES_CLASSES),
        score_floor=FLOOR,
        source=dict(kind='coco', path='image_info_unlabeled.json'),
        teacher=dict(
            config='t.py',
            config_text='',
            checkpoint='t.pth',
            checkpoint_sha256='0'),
        chunk_size=3,
        created_by='test')
    full.update(meta)
    finalize_store(store_dir, full)
    return store_dir


@pytest.fixture(scope='module')
def store(shapes, tmp_path_factory):
    root, images = shapes
    return build_store(str(tmp_path_factory.mktemp('pl') / 'store'), images)


def make_ds(store, root, **kwargs):
    args = dict(
        store=store,
        data_root=root,
        data_prefix=dict(img='unlabeled/'),
        pipeline=[])
    args.update(kwargs)
    return PseudoLabelDataset(**args)


def coco_ds(store, root, tmp_path, score_thr, **kwargs):
    ann = str(tmp_path / f'export_{score_thr}.json')
    export_coco(store, ann, score_thr=score_thr)
    return CocoDataset(
        ann_file=ann,
        data_root=root,
        data_prefix=dict(img='unlabeled/'),
        metainfo=dict(classes=SHAPES_CLASSES),
        **kwargs)


def assert_same_infos(ours, coco):
    assert len(ours) == len(coco)
    for i in range(len(ours)):
        a, b = ours.get_data_info(i), coco.get_data_info(i)
        ia, ib = a.pop('instances'), b.pop('instances')
        assert a == b
        assert len(ia) == len(ib)
        for x, y in zip(ia, ib):
            np.testing.assert_allclose(x.pop('bbox'), y.pop('bbox'))
            assert isinstance(x.pop('score'), float)  # CocoDataset drops it
            assert x == y


# --------------------------------------------------------------------------
# same data as CocoDataset
# --------------------------------------------------------------------------
@pytest.mark.parametrize('keep_empty', [False, True])
def test_data_infos_equal_coco_dataset(store, shapes, tmp_path, keep_empty):
    root, _ = shapes
    ours = make_ds(store, root, score_thr=0.5, keep_empty=keep_empty)
    coco = coco_ds(
        store,
        root,
        tmp_path,
        0.5,
        filter_cfg=None if keep_empty else dict(filter_empty_gt=True),
        pipeline=[])
    assert len(ours) == (6 if keep_empty else 4)
    assert_same_infos(ours, coco)
    info = ours.get_data_info(0)
    assert info['img_path'] == osp.join(root, 'unlabeled', '000000.png')
    assert [x['bbox_label'] for x in info['instances']] == [0, 1]
    assert info['instances'][0]['mask']['size'] == [SIZE, SIZE]
    assert ours.metainfo['classes'] == SHAPES_CLASSES
    assert [ours.get_cat_ids(i) for i in range(len(ours))
            ] == [coco.get_cat_ids(i) for i in range(len(coco))]


def test_packed_samples_equal_coco_dataset(store, shapes, tmp_path):
    root, _ = shapes
    ours = make_ds(store, root, score_thr=0.3, pipeline=PIPELINE)
    coco = coco_ds(
        store,
        root,
        tmp_path,
        0.3,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=PIPELINE)
    assert len(ours) == len(coco) == 5
    for i in range(len(ours)):
        a, b = ours[i], coco[i]
        assert torch.equal(a['inputs'], b['inputs'])
        sa, sb = a['data_samples'], b['data_samples']
        assert sa.metainfo == sb.metainfo
        ga, gb = sa.gt_instances, sb.gt_instances
        assert len(ga) > 0
        assert torch.allclose(ga.bboxes.tensor, gb.bboxes.tensor)
        assert torch.equal(ga.labels, gb.labels)
        assert np.array_equal(ga.masks.masks, gb.masks.masks)
        assert ga.masks.masks.any()


# --------------------------------------------------------------------------
# threshold, classes, empty images
# --------------------------------------------------------------------------
def num_boxes(ds):
    return sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds)))


def test_threshold_at_load(store, shapes):
    root, _ = shapes
    hi = make_ds(store, root, score_thr=0.5)
    lo = make_ds(store, root, score_thr=0.3)
    assert (len(hi), num_boxes(hi)) == (4, 6)
    assert (len(lo), num_boxes(lo)) == (5, 8)
    assert [hi.get_data_info(i)['img_id'] for i in range(4)
            ] == [lo.get_data_info(i)['img_id'] for i in (0, 1, 2, 4)]
    assert hi.load_stats['num_invalid'] == 2  # NaN and zero width
    assert hi.load_stats['num_small'] == 2  # < 1 px and outside the image
    assert hi.load_stats['num_below_thr'] == 2


def test_bad_boxes_dropped_and_logged(store, shapes):
    root, images = shapes
    with mock.patch('rethink_mmdet.self_training.store_scan.print_log') as log:
        ds = make_ds(store, root, score_thr=0.5)
    warnings = [
        c.args[0] for c in log.call_args_list
        if c.kwargs.get('level') == logging.WARNING
    ]
    assert len(warnings) == 1
    assert 'dropped 2 invalid boxes' in warnings[0]
    assert "box 3 of image 2 ('000002.png')" in warnings[0]
    assert "box 4 of image 2 ('000002.png')" in warnings[0]
    info = ds.get_data_info(1)  # image 2: only the valid box is left
    assert info['img_id'] == images[2]['id']
    assert [x['bbox'] for x in info['instances']] == [[60, 60, 100, 110]]


def test_keep_empty(store, shapes):
    root, _ = shapes
    ds = make_ds(store, root, score_thr=0.5, keep_empty=True)
    assert len(ds) == 6
    assert [len(ds.get_data_info(i)['instances'])
            for i in range(6)] == [2, 0, 1, 1, 0, 2]
    with pytest.raises(ValueError, match='filter_empty_gt'):
        make_ds(
            store,
            root,
            keep_empty=True,
            filter_cfg=dict(filter_empty_gt=True))
    # filter_cfg of a CocoDataset config is honoured (min_size)
    assert len(
        make_ds(
            store,
            root,
            filter_cfg=dict(min_size=SIZE + 1),
            keep_empty=True,
            test_mode=True)) == 6
    with pytest.raises(PseudoLabelStoreError, match='no image left'):
        make_ds(store, root, filter_cfg=dict(min_size=SIZE + 1))


def test_class_map(store, shapes):
    root, _ = shapes
    ds = make_ds(
        store,
        root,
        score_thr=0.5,
        metainfo=dict(classes=('round', 'polygon')),
        class_map={
            'circle': 'round',
            'triangle': 'polygon',
            'square': 'polygon'
        })  # 'star' dropped
    assert ds.metainfo['classes'] == ('round', 'polygon')
    labels = [[x['bbox_label'] for x in ds.get_data_info(i)['instances']]
              for i in range(len(ds))]
    assert labels == [[0, 1], [0], [1]]
    assert [ds.get_data_info(i)['img_path'][-10:]
            for i in range(3)] == ['000000.png', '000003.png', '000005.png']
    assert ds.load_stats['num_unmapped'] == 3  # the 'star' boxes
    with pytest.raises(PseudoLabelStoreError, match=r"\['hexagon'\]"):
        make_ds(
            store,
            root,
            metainfo=dict(classes=('round', )),
            class_map={'circle': 'hexagon'})
    with pytest.raises(PseudoLabelStoreError, match=r"keys.*\['cube'\]"):
        make_ds(
            store,
            root,
            metainfo=dict(classes=('round', )),
            class_map={'cube': 'round'})
    with pytest.raises(PseudoLabelStoreError, match='student classes'):
        make_ds(store, root, class_map={'circle': 'round'})


# --------------------------------------------------------------------------
# bad input: clear errors naming the file and record
# --------------------------------------------------------------------------
def test_class_mismatch_error(store, shapes):
    root, _ = shapes
    classes = ('circle', 'triangle', 'square', 'hexagon')
    with pytest.raises(PseudoLabelStoreError) as e:
        make_ds(store, root, metainfo=dict(classes=classes))
    msg = str(e.value)
    assert osp.join(store, 'meta.json') in msg
    assert "teacher only: ['star']; student only: ['hexagon']" in msg
    with pytest.raises(PseudoLabelStoreError, match='different order'):
        make_ds(store, root, metainfo=dict(classes=SHAPES_CLASSES[::-1]))


def test_threshold_errors(store, shapes):
    root, _ = shapes
    with pytest.raises(
            PseudoLabelStoreError,
            match=r'meta.json: score_thr=0.2 is below .* 0.3'):
        make_ds(store, root, score_thr=0.2)
    with pytest.raises(PseudoLabelStoreError) as e:
        make_ds(store, root, score_thr=0.99)  # 0.99 and 0.95 are bad boxes
    assert 'no image left' in str(e.value)
    assert osp.join(store, 'meta.json') in str(e.value)
    assert 'highest score of a valid box of a mapped class: 0.9' in str(
        e.value)


def test_store_metadata_errors(store, shapes, tmp_path):
    root, _ = shapes
    bad = str(tmp_path / 'bad')
    shutil.copytree(store, bad)
    meta_file = osp.join(bad, 'meta.json')
    with open(meta_file) as f:
        meta = json.load(f)
    for key, value, match in (('format_version', 2, 'format_version 2'),
                              ('format', 'x', "format 'x'"), ('num_images', 7,
                                                              'num_images=7')):
        with open(meta_file, 'w') as f:
            json.dump(dict(meta, **{key: value}), f)
        with pytest.raises(PseudoLabelStoreError, match=match) as e:
            make_ds(bad, root)
        assert bad in str(e.value)
    os.remove(meta_file)
    with pytest.raises(PseudoLabelStoreError, match='meta.json: missing'):
        make_ds(bad, root)
    with pytest.raises(ValueError, match='no ann_file'):
        make_ds(store, root, ann_file='a.json')


def test_missing_image_files(store, shapes, tmp_path):
    root, _ = shapes
    with pytest.raises(PseudoLabelStoreError) as e:
        make_ds(store, root, data_prefix=dict(img='nowhere/'))
    msg = str(e.value)
    assert '4 of 4 checked image files are missing' in msg
    assert osp.join(root, 'nowhere', '000000.png') in msg
    # one file gone: named, and a sample of 2 of the 4 kept images finds it
    img_dir = tmp_path / 'imgs'
    shutil.copytree(osp.join(root, 'unlabeled'), img_dir)
    os.remove(img_dir / '000005.png')
    with pytest.raises(
            PseudoLabelStoreError, match=r"1 of 4 .*000005.png' \(image 5\)"):
        make_ds(store, '', data_prefix=dict(img=str(img_dir)))
    with pytest.raises(PseudoLabelStoreError, match='1 of 2 checked'):
        make_ds(store, '', data_prefix=dict(img=str(img_dir)), check_files=2)
    assert len(
        make_ds(
            store, root, data_prefix=dict(img='nowhere/'),
            check_files=False)) == 4


def test_image_root_defaults_to_store_source_root(shapes, tmp_path):
    root, images = shapes
    img_root = osp.join(root, 'unlabeled')
    store = build_store(
        str(tmp_path / 'rooted'),
        images,
        source=dict(kind='coco', path='x.json', root=img_root))
    ds = PseudoLabelDataset(store=store)  # no data_root / data_prefix
    assert ds.get_data_info(0)['img_path'] == osp.join(img_root, '000000.png')
    other = osp.join(root, 'val')
    assert make_ds(store, '', data_prefix=dict(img=other),
                   check_files=False).get_data_info(0)['img_path'] == \
        osp.join(other, '000000.png')


# --------------------------------------------------------------------------
# scale and workers
# --------------------------------------------------------------------------
def test_pickle_is_cheap_and_lazy(store, shapes):
    root, _ = shapes
    ds = make_ds(store, root, score_thr=0.3, lazy_init=True)
    assert not ds._fully_initialized
    ds2 = DATASETS.build(
        dict(
            type='PseudoLabelDataset',
            store=store,
            data_root=root,
            data_prefix=dict(img='unlabeled/'),
            score_thr=0.3))
    blob = pickle.dumps(ds2)
    assert len(blob) < 8000
    assert b'memmap' not in blob
    ds3 = pickle.loads(blob)
    assert ds3._store is None
    assert ds3.get_data_info(2) == ds2.get_data_info(2)
    assert len(ds) == 5  # lazy: loads on first use
    sub = ds2.get_subset([4, 0])
    assert [sub.get_data_info(i)['img_id'] for i in range(2)] == [
        ds2.get_data_info(4)['img_id'],
        ds2.get_data_info(0)['img_id']
    ]
    assert len(make_ds(store, root, score_thr=0.3, indices=2)) == 2
    assert ds2.store_meta['score_floor'] == FLOOR


def test_large_store_loads_vectorised(tmp_path):
    """200k images, 1M boxes in several load blocks: the vectorised pass
    counts every block (its speed is measured by
    tools/benchmark/pseudo_label_store.py, not asserted here)."""
    n, per = 200_000, 5
    m = n * per
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (m, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + 10], axis=1)
    scores = np.tile(np.array([0.1, 0.3, 0.5, 0.7, 0.9], np.float32), n)
    # image i keeps 2 boxes at 0.6, except every 4th image keeps none
    scores[np.arange(0, m, per * 4)[:, None] + [3, 4]] = 0.2
    paths = [b'%07d.jpg' % i for i in range(n)]
    store = str(tmp_path / 'big')
    write_chunk_columns(
        store, 0, 0, {
            'image_ids.npy': np.arange(1, n + 1),
            'image_hw.npy': np.full((n, 2), 200),
            'image_paths.bin': b''.join(paths),
            'image_path_offsets.npy': np.arange(n + 1) * 11,
            'box_offsets.npy': np.arange(n + 1) * per,
            'boxes.npy': boxes,
            'scores.npy': scores,
            'labels.npy': np.arange(m) % 4,
        })
    finalize_store(store, dict(classes=list(SHAPES_CLASSES), score_floor=0.))
    with mock.patch('rethink_mmdet.self_training.store_scan.BLOCK_BOXES',
                    300_001):  # blocks end inside no image
        ds = PseudoLabelDataset(store=store, score_thr=0.6, check_files=False)
    assert len(ds) == n - n // 4
    assert ds.load_stats['num_kept_boxes'] == 2 * (n - n // 4)
    assert ds.get_data_info(0)['img_id'] == 2
    assert [x['bbox_label']
            for x in ds.get_data_info(0)['instances']] == [0, 1]
    assert ds.get_data_info(-1)['img_id'] == n
    assert len(pickle.dumps(ds)) < 2 * 8 * n  # the image index only


def test_public_api_sees_every_sample(store, shapes):
    """A lazy index, not a list: every public way of reading the dataset
    (``len``, ``get_data_info``, ``data_list``, ``load_data_list``,
    ``__getitem__``) sees the same samples, all of the kept images; the
    steps are mmengine's (load_data_list, filter_data, indices)."""
    root, images = shapes
    ds = make_ds(store, root, score_thr=0.5, check_files=False)
    # images 0, 2, 3, 5 have a valid box scoring >= 0.5 (see BOXES)
    expected = [images[i]['id'] for i in (0, 2, 3, 5)]
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [x['img_id'] for x in infos] == expected
    assert len(ds.data_list) == len(ds) == 4
    # as in BaseDataset: get_data_info is the data_list item + sample_idx
    assert [dict(x, sample_idx=i) for i, x in enumerate(ds.data_list)] == infos
    assert [x['img_id'] for x in ds.data_list[1:3]] == expected[1:3]
    assert [x['img_id'] for x in ds.load_data_list()] == expected
    assert [ds[i]['img_id'] for i in range(len(ds))] == expected
    with pytest.raises(IndexError):
        ds.data_list[len(ds)]
    # image_hw(): the sizes of the same items, in one call
    np.testing.assert_array_equal(ds.image_hw(),
                                  [[x['height'], x['width']] for x in infos])
    ds.get_subset_([2, 0])
    np.testing.assert_array_equal(ds.image_hw(),
                                  [[infos[k]['height'], infos[k]['width']]
                                   for k in (2, 0)])
    assert [ds.get_data_info(i)['img_id'] for i in range(2)] == \
        [expected[2], expected[0]]
    # mmengine's contract: data_list is what load_data_list, filter_data
    # and indices made; a list assigned by hand is served as in BaseDataset
    ds.data_list = infos[:1]
    assert len(ds) == 1 and ds[0]['img_id'] == expected[0]
    np.testing.assert_array_equal(ds.image_hw(),
                                  [[infos[0]['height'], infos[0]['width']]])


def test_keep_rule_is_shared_by_load_and_get_data_info(store, shapes):
    """The load pass and ``get_data_info`` apply the same rule: the kept
    boxes counted at load are exactly the instances served."""
    root, _ = shapes
    for thr in (FLOOR, 0.5, 0.6, 0.9):
        ds = make_ds(
            store, root, score_thr=thr, keep_empty=True, check_files=False)
        served = sum(len(x['instances']) for x in ds.data_list)
        assert served == ds.load_stats['num_kept_boxes']
        # the rule compares in the store's float32
        assert all(
            np.float32(x['score']) >= np.float32(thr) for info in ds.data_list
            for x in info['instances'])


# --------------------------------------------------------------------------
# a real detector trains on it
# --------------------------------------------------------------------------
def test_one_training_step(store, shapes, tmp_path):
    root, _ = shapes
    cfg_file = tmp_path / 'retinanet_pseudo.py'
    cfg_file.write_text(f"""
_base_ = [{RETINANET!r}]
custom_imports = dict(
    imports=['rethink_mmdet', 'rethink_mmdet.self_training.dataset'],
    allow_failed_imports=False)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        store={store!r},
        score_thr=0.5,
        data_root={root!r},
        data_prefix=dict(img='unlabeled/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline={{{{_base_.train_pipeline}}}}))
""")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.train_dataloader.dataset.type == 'PseudoLabelDataset'
    assert cfg.train_dataloader.dataset.pipeline[0].type == \
        'LoadImageFromFile'
    work_dir = tmp_path / 'work'
    opts = short_run_options(root, max_iters=1, ckpt_interval=1)
    out = run_tool(
        python_tool('train.py', cfg_file, '--work-dir', work_dir,
                    '--cfg-options', *opts))
    assert 'Iter(train) [1/1]' in out
    assert 'loss_cls' in out
    assert 'kept 6 of 12 boxes' in out
    assert osp.isfile(work_dir / 'iter_1.pth')


# --------------------------------------------------------------------------
# a mask pipeline on a box-only store
# --------------------------------------------------------------------------
def test_mask_pipeline_on_a_box_only_store_is_refused(shapes,
                                                      tmp_path_factory):
    root, images = shapes
    boxes_only = build_store(
        str(tmp_path_factory.mktemp('pl_boxes') / 'store'),
        images,
        masks=False)
    # a box pipeline is fine
    box_pipeline = [
        dict(t, with_mask=False) if t['type'] == 'LoadAnnotations' else t
        for t in PIPELINE
    ]
    assert len(make_ds(boxes_only, root, pipeline=box_pipeline)) > 0
    # masks from the pseudo loader or mmdet's: refused at start, naming the
    # store's teacher and the fix
    for loader in ('LoadAnnotations', 'LoadPseudoAnnotations'):
        pipeline = [
            dict(t, type=loader) if t['type'] == 'LoadAnnotations' else t
            for t in PIPELINE
        ]
        with pytest.raises(
                ValueError,
                match=r'boxes only .*t\.py.*'
                r'with_mask=True.*instance-segmentation teacher'):
            make_ds(boxes_only, root, pipeline=pipeline)
