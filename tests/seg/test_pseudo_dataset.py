"""PseudoSegStore / PseudoSegDataset (mmseg's registry, LoadAnnotations reads
the label maps, confidence filters, loud failures) and score_pseudo_labels
on stores written directly (no teacher: exact expected values)."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from rethink_mmdet.seg.pseudo_reader import PseudoSegStore
from rethink_mmdet.seg.pseudo_store import (SEG_COLUMNS, finalize_seg_store,
                                            label_relpath, write_label_map)
from rethink_mmdet.seg.quality import score_pseudo_labels
from rethink_mmdet.self_training.store import (PseudoLabelStoreError, offsets,
                                               write_chunk_columns)
from tests.conftest import python_tool, run_tool

CLASSES = ('background', 'circle', 'triangle', 'square', 'star')
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]


def write_store(out, root, names, labels, skipped=()):
    """A finished store over images ``root/names`` with the given label
    maps (one chunk), as the labeler writes it."""
    for i, label in enumerate(labels):
        write_label_map(out, i, label)
    paths = [n.encode() for n in names]
    labels = [np.asarray(x) for x in labels]
    columns = {
        'image_ids.npy': np.arange(1,
                                   len(names) + 1),
        'image_hw.npy': np.array([x.shape for x in labels]).reshape(-1, 2),
        'image_paths.bin': b''.join(paths),
        'image_path_offsets.npy': offsets([len(p) for p in paths]),
        'source_indexes.npy': np.arange(len(names)),
        'mean_confidence.npy': np.linspace(0.5, 0.9, len(names)),
        'ignore_fraction.npy': [float((x == 255).mean()) for x in labels],
    }
    write_chunk_columns(out, 0, 0, columns, skipped, {
        k: v[0]
        for k, v in SEG_COLUMNS.items()
    })
    return finalize_seg_store(
        out,
        dict(
            classes=list(CLASSES),
            ignore_index=255,
            prob_thr=0.5,
            source=dict(root=root)))


@pytest.fixture
def gt_store(seg_shapes_root, tmp_path):
    """A store whose label maps are the unlabeled split's ground truth
    with the left half of image 0 and all of image 1 ignored."""
    gt_dir = osp.join(seg_shapes_root, 'seg_maps', 'unlabeled')
    names = [f'{i:06d}.png' for i in range(4)]
    labels = [np.array(Image.open(osp.join(gt_dir, n))) for n in names]
    labels[0][:, :32] = 255
    labels[1][:] = 255
    out = str(tmp_path / 'store')
    write_store(out, osp.join(seg_shapes_root, 'unlabeled'), names, labels)
    return out, gt_dir, labels


def build(**kwargs):
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS

    import rethink_mmdet.seg  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(dict(type='PseudoSegDataset', **kwargs))


def test_reader_and_dataset_serve_the_label_maps(gt_store, seg_shapes_root):
    out, _, labels = gt_store
    store = PseudoSegStore(out)
    assert len(store) == 4 and store.classes == CLASSES
    assert store.label_path(3) == osp.join(out, label_relpath(3))
    assert store.image_path(2) == osp.join(seg_shapes_root, 'unlabeled',
                                           '000002.png')
    assert store.confidence(1) == (pytest.approx(0.5 + 0.4 / 3), 1.0)
    assert store.image_hw(0) == (64, 64)

    ds = build(store=out, pipeline=PIPELINE)
    assert len(ds) == 4 and ds.metainfo['classes'] == CLASSES
    info = ds.get_data_info(1)
    assert info['seg_map_path'] == store.label_path(1)
    assert info['pseudo_ignore_fraction'] == 1.0
    sample = ds[0]['data_samples']
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), labels[0])
    assert sample.img_path == store.image_path(0)

    # kept fraction: image 0 keeps 1/2, image 1 nothing
    kept = build(store=out, min_kept_fraction=0.5, lazy_init=False)
    assert [d['seg_map_path'] for d in kept.load_data_list()
            ] == [store.label_path(i) for i in (0, 2, 3)]
    sure = build(store=out, min_kept_fraction=0.6, min_mean_confidence=0.8)
    assert len(sure) == 1 and sure.get_data_info(0)['seg_map_path'] == \
        store.label_path(3)


def test_dataset_fails_loudly_when_nothing_is_left(gt_store, tmp_path):
    out, _, _ = gt_store
    with pytest.raises(PseudoLabelStoreError) as e:
        build(store=out, min_mean_confidence=0.95)
    assert 'no image left' in str(e.value)
    assert 'highest mean confidence 0.9' in str(e.value)
    assert 'Lower the filters' in str(e.value)

    empty = str(tmp_path / 'empty')
    write_store(
        empty,
        str(tmp_path), [], [],
        skipped=[dict(path='a.png', reason='OSError')])
    assert PseudoSegStore(empty).meta['num_skipped'] == 1
    with pytest.raises(PseudoLabelStoreError, match='holds no label map'):
        build(store=empty)

    with pytest.raises(PseudoLabelStoreError, match='no meta.json'):
        build(store=str(tmp_path / 'missing'))
    with pytest.raises(ValueError, match='reduce_zero_label'):
        build(store=out, reduce_zero_label=True)
    with pytest.raises(ValueError, match='min_kept_fraction=1.5'):
        build(store=out, min_kept_fraction=1.5)
    det = tmp_path / 'det'
    det.mkdir()
    (det / 'meta.json').write_text(
        json.dumps(dict(format='rethink_mmdet.pseudo_labels')))
    with pytest.raises(PseudoLabelStoreError, match='PseudoLabelDataset'):
        PseudoSegStore(str(det))


def test_score_pseudo_labels(gt_store):
    out, gt_dir, labels = gt_store
    gts = [
        np.array(Image.open(osp.join(gt_dir, f'{i:06d}.png')))
        for i in range(4)
    ]
    score = score_pseudo_labels(out, gt_dir)
    # kept pixels are exactly the ground truth
    present = np.unique(np.concatenate([labels[i].ravel() for i in (0, 2, 3)]))
    for c, iou in enumerate(score['kept_iou']):
        assert iou == 1.0 if c in present else np.isnan(iou)
    assert score['kept_miou'] == 1.0 and score['kept_accuracy'] == 1.0
    total = sum(g.size for g in gts)
    assert score['kept_fraction'] == pytest.approx(
        (total - 32 * 64 - 64 * 64) / total)
    # ignored pixels count as missed pixels of their true class
    for c in range(len(CLASSES)):
        true = sum(int((g == c).sum()) for g in gts)
        found = sum(
            int(((g == c) & (p == c)).sum()) for g, p in zip(gts, labels))
        expected = found / true if true else float('nan')
        np.testing.assert_allclose(score['iou'][c], expected)
    assert score['miou'] < 1.0
    log = run_tool(
        python_tool(
            osp.join('misc', 'score_pseudo_seg.py'), out, gt_dir, '--json',
            osp.join(out, 'scores.json')))
    assert 'kept mIoU 1.0000' in log
    with open(osp.join(out, 'scores.json')) as f:
        assert json.load(f)['kept_fraction'] == score['kept_fraction']
    with pytest.raises(FileNotFoundError, match='no ground-truth map'):
        score_pseudo_labels(out, osp.dirname(gt_dir))
