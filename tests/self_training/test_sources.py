"""MultiSourceDataset tags every sample with its source name; PackStudentInputs
keeps it and packs the teacher scores (real shapes images, a real store and
mmdet's own transforms)."""
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmdet.registry import DATASETS, TRANSFORMS
from rethink_mmdet.data import ShapesDataset
from rethink_mmdet.self_training.sources import (HUMAN, PSEUDO, SCORE_KEY,
                                                 SOURCE_KEY, STUDENT_META_KEYS,
                                                 MultiSourceDataset,
                                                 PackStudentInputs,
                                                 SetDataSource)
from tests.self_training import test_sampler as sampler_tests

LOAD = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True)
]
PIPELINE = LOAD + [
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackStudentInputs')
]


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return sampler_tests.make_mixed_data(str(tmp_path_factory.mktemp('src')))


def human(data, pipeline=PIPELINE):
    return sampler_tests.human(data, pipeline=pipeline)


def pseudo(data, pipeline=PIPELINE, **kwargs):
    return sampler_tests.pseudo(data, pipeline=pipeline, **kwargs)


def test_every_sample_carries_its_source(data):
    ds = DATASETS.build(
        dict(
            type='MultiSourceDataset',
            sources=[HUMAN, PSEUDO],
            datasets=[human(data), pseudo(data)]))
    assert ds.source_sizes == [12, 8] and len(ds) == 20
    assert ds.metainfo['classes'] == ds.datasets[1].metainfo['classes']
    for i, want in enumerate([HUMAN] * 12 + [PSEUDO] * 8):
        assert ds.get_data_info(i)[SOURCE_KEY] == want
        sample = ds[i]['data_samples']
        assert sample.metainfo[SOURCE_KEY] == want
        assert len(sample.gt_instances) > 0
    assert isinstance(ds.datasets[0].pipeline.transforms[0], SetDataSource)
    # the sub-datasets keep their own pipelines
    assert ds.datasets[0].pipeline is not ds.datasets[1].pipeline


def test_a_pipeline_that_drops_the_source_is_an_error(data):
    plain = LOAD + [dict(type='PackDetInputs')]
    ds = MultiSourceDataset(
        sources=[HUMAN, PSEUDO], datasets=[human(data, plain),
                                           pseudo(data)])
    assert ds[12]['data_samples'].metainfo[SOURCE_KEY] == PSEUDO
    with pytest.raises(KeyError, match='PackStudentInputs'):
        ds[0]
    keep = LOAD + [dict(type='PackDetInputs', meta_keys=STUDENT_META_KEYS)]
    ds = MultiSourceDataset(
        sources=[HUMAN, PSEUDO], datasets=[human(data, keep),
                                           pseudo(data)])
    assert ds[0]['data_samples'].metainfo[SOURCE_KEY] == HUMAN


def test_construction_errors_and_retagging(data):
    with pytest.raises(ValueError, match='one name per dataset'):
        MultiSourceDataset(
            sources=[HUMAN], datasets=[human(data), pseudo(data)])
    with pytest.raises(ValueError, match='non-empty strings'):
        MultiSourceDataset(
            sources=[HUMAN, ''], datasets=[human(data),
                                           pseudo(data)])
    one = DATASETS.build(human(data))
    with pytest.raises(ValueError, match='share one pipeline'):
        MultiSourceDataset(sources=[HUMAN, PSEUDO], datasets=[one, one])
    # re-wrapping the same datasets re-tags them instead of stacking tags
    two = DATASETS.build(pseudo(data))
    MultiSourceDataset(sources=[HUMAN, PSEUDO], datasets=[one, two])
    again = MultiSourceDataset(sources=['a', 'b'], datasets=[one, two])
    assert sum(isinstance(t, SetDataSource)
               for t in one.pipeline.transforms) == 1
    assert again[0]['data_samples'].metainfo[SOURCE_KEY] == 'a'
    # the classes must agree (the palette may differ by default)
    other = pseudo(
        data,
        metainfo=dict(classes=('star', 'square', 'triangle', 'circle')),
        class_map=dict(
            circle='circle', triangle='triangle', square='square',
            star='star'))
    with pytest.raises(ValueError, match='does not match'):
        MultiSourceDataset(
            sources=[HUMAN, PSEUDO], datasets=[human(data), other])


def test_pack_student_inputs_packs_scores_beside_the_boxes(data):
    cfg = human(data, pipeline=[])
    coco = ShapesDataset(**{k: v for k, v in cfg.items() if k != 'type'})
    results = Compose([TRANSFORMS.build(t) for t in LOAD])(
        coco.get_data_info(0))
    n = len(results['gt_bboxes'])
    assert n >= 2
    results = dict(results, data_source=PSEUDO)
    results['gt_ignore_flags'] = np.array([True] + [False] * (n - 1))
    results[SCORE_KEY] = np.linspace(0.5, 0.9, n).astype(np.float64)
    packed = PackStudentInputs().transform(dict(results))
    sample = packed['data_samples']
    assert sample.metainfo[SOURCE_KEY] == PSEUDO
    assert sample.gt_instances.scores.dtype == torch.float32
    torch.testing.assert_close(
        sample.gt_instances.scores,
        torch.from_numpy(results[SCORE_KEY][1:].astype(np.float32)))
    assert len(sample.ignored_instances.scores) == 1
    # no score column: packed like PackDetInputs, no scores field
    plain = dict(results)
    del plain[SCORE_KEY]
    assert 'scores' not in PackStudentInputs().transform(
        plain)['data_samples'].gt_instances
    bad = dict(results)
    bad[SCORE_KEY] = bad[SCORE_KEY][:-1]
    with pytest.raises(ValueError, match='in step'):
        PackStudentInputs().transform(bad)
