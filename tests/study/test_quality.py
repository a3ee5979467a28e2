"""Pseudo-label quality against hand-made ground truth: precision and
recall at every threshold computed by hand, AP of a perfect store 1.0, and
image pairing by id or file name."""
import json

import pytest

from rethink_mmdet.self_training.store import import_coco_results
from rethink_mmdet.study.quality import QualityError, pseudo_label_quality

CATS = [dict(id=1, name='circle'), dict(id=3, name='square')]
IMAGES = [
    dict(id=1, file_name='a.png', height=128, width=128),
    dict(id=2, file_name='b.png', height=128, width=128)
]
GT_ANNS = [  # A, B on image 1; C and a crowd region D on image 2
    dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 10, 10]),
    dict(id=2, image_id=1, category_id=3, bbox=[20, 20, 10, 10]),
    dict(id=3, image_id=2, category_id=1, bbox=[0, 0, 20, 20]),
    dict(id=4, image_id=2, category_id=3, bbox=[50, 50, 30, 30], iscrowd=1),
]
PSEUDO = [  # (image, category, xywh, score) -> outcome at IoU 0.5
    (1, 1, [0, 0, 10, 10], 0.9),  # A exactly: right
    (1, 1, [1, 0, 10, 10], 0.8),  # A again (IoU 0.82), A taken: wrong
    (1, 1, [20, 20, 10, 10], 0.6),  # on B, wrong class: wrong
    (2, 3, [55, 55, 10, 10], 0.7),  # inside crowd D: neither
    (2, 1, [0, 0, 20, 12], 0.4),  # C with IoU 0.6: right
    (2, 3, [100, 100, 5, 5], 0.3),  # nothing there: wrong
]


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def make_store(tmp_path, results, images=IMAGES, name='store'):
    info = write_json(tmp_path / f'{name}_info.json',
                      dict(images=images, categories=CATS))
    res = write_json(tmp_path / f'{name}_results.json', [
        dict(image_id=i, category_id=c, bbox=b, score=s)
        for i, c, b, s in results
    ])
    store = str(tmp_path / name)
    import_coco_results(res, info, store)
    return store


@pytest.fixture
def gt_file(tmp_path):
    anns = [
        dict(a, area=a['bbox'][2] * a['bbox'][3], iscrowd=a.get('iscrowd', 0))
        for a in GT_ANNS
    ]
    return write_json(tmp_path / 'gt.json',
                      dict(images=IMAGES, categories=CATS, annotations=anns))


def test_precision_recall_by_hand(tmp_path, gt_file):
    store = make_store(tmp_path, PSEUDO)
    q = pseudo_label_quality(store, gt_file, [0.5, 0.35, 0.0])
    assert (q['images'], q['boxes'], q['gt_boxes']) == (2, 6, 3)
    by_thr = {p['thr']: p for p in q['pr']}
    # >= 0.5: right 0.9; wrong 0.8, 0.6; 0.7 on the crowd region ignored
    assert (by_thr[0.5]['boxes'], by_thr[0.5]['matched']) == (3, 1)
    assert by_thr[0.5]['precision'] == pytest.approx(1 / 3)
    assert by_thr[0.5]['recall'] == pytest.approx(1 / 3)
    # >= 0.35 adds the right 0.4
    assert by_thr[0.35]['precision'] == pytest.approx(2 / 4)
    assert by_thr[0.35]['recall'] == pytest.approx(2 / 3)
    # >= 0 adds the wrong 0.3
    assert by_thr[0.0]['precision'] == pytest.approx(2 / 5)
    assert by_thr[0.0]['recall'] == pytest.approx(2 / 3)
    assert 0.0 < q['AP'] < 1.0


def test_perfect_and_empty_stores(tmp_path, gt_file):
    perfect = [(a['image_id'], a['category_id'], a['bbox'], 1.0)
               for a in GT_ANNS if not a.get('iscrowd')]
    q = pseudo_label_quality(make_store(tmp_path, perfect), gt_file, [0.5])
    assert q['AP'] == pytest.approx(1.0)
    assert q['pr'][0]['precision'] == 1.0 and q['pr'][0]['recall'] == 1.0
    q = pseudo_label_quality(
        make_store(tmp_path, [], name='empty'), gt_file, [0.5])
    assert q['boxes'] == 0 and q['AP'] == -1.0
    assert q['pr'][0]['precision'] is None and q['pr'][0]['recall'] == 0.0


def test_pairing_by_file_name(tmp_path, gt_file):
    # the store numbers its images 11, 12 (e.g. labeled from a folder)
    renumbered = [dict(im, id=im['id'] + 10) for im in IMAGES]
    results = [(i + 10, c, b, s) for i, c, b, s in PSEUDO]
    store = make_store(tmp_path, results, renumbered, name='folder')
    with pytest.raises(QualityError, match="quality_match='file_name'"):
        pseudo_label_quality(store, gt_file, [0.5])
    q = pseudo_label_quality(store, gt_file, [0.5], match='file_name')
    assert q['pr'][0]['precision'] == pytest.approx(1 / 3)
