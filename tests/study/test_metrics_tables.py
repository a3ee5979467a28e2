"""Reading mmengine's scalar logs (resumed runs, evaluations logged with
the epoch as step, a truncated last line) and the table / cost
arithmetic."""
import json

import pytest

from rethink_mmdet.study.metrics import read_history
from rethink_mmdet.study.schema import Arm, Metric, Study, Table
from rethink_mmdet.study.tables import (cost_ratios, gain, mean_std,
                                        render_table, table_cells)
from tests.study.helpers import run_result


def write_run(work_dir, stamp, lines, tail=''):
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    text = ''.join(json.dumps(r) + '\n' for r in lines) + tail
    (vis / 'scalars.json').write_text(text)


def train(i, loss):
    return dict(iter=i, step=i, loss=loss, images_seen=4 * i, lr=0.01)


def test_resumed_history(tmp_path):
    val = {'coco/bbox_mAP': 0.1, 'step': 0, 'time': 0.1}  # step = epoch
    write_run(
        tmp_path,
        '20260101_000000',
        [train(1, 3.0), train(2, 2.5), val,
         train(3, 2.4)],
        tail='{"iter": 4, "lo')  # killed while writing
    write_run(
        tmp_path,
        '20260101_010000',  # resumed from iteration 2
        [
            train(3, 2.3),
            train(4, 2.0),
            dict(val, **{'coco/bbox_mAP': 0.3}), {
                'time': 0.1,
                'step': 0
            }
        ])
    (tmp_path / 'not_a_run').mkdir()
    hist = read_history(str(tmp_path))
    assert [r['iter'] for r in hist.train] == [1, 2, 3, 4]
    assert hist.train[2]['loss'] == 2.3  # the resumed run's iteration 3
    assert hist.curve('coco/bbox_mAP') == [(2.0, 0.1), (4.0, 0.3)]
    assert hist.curve('coco/bbox_mAP', 'images_seen') == [(8.0, 0.1),
                                                          (16.0, 0.3)]
    assert hist.final('coco/bbox_mAP') == 0.3
    assert hist.final('loss') == 2.0 and hist.total('images_seen') == 16
    assert hist.final('coco/segm_mAP') is None
    assert read_history(str(tmp_path / 'missing')).train == []


def result(arm, seed, value, wall, images=None):
    return run_result(
        arm, seed, {'ap': value}, wall_s=wall, processes=2, images_seen=images)


def test_cells_references_and_ratios():
    arms = [
        Arm('scratch',
            'x.py',
            seeds=[0, 1, 2],
            labels=dict(init='scratch', sched='2x')),
        Arm('pre',
            'x.py',
            seeds=[0],
            labels=dict(init='pre', sched='2x'),
            reference={'ap': 40.3}),
        Arm('st',
            'x.py',
            seeds=[0],
            kind='self_train',
            counterpart='pre',
            teacher_arm='pre',
            labels=dict(init='st', sched='2x')),
    ]
    table = Table('AP', ['ap'], rows=('init', ), columns='sched')
    study = Study('s', 's.py', arms, [Metric('ap', 'AP', 100.0, 1)], [table],
                  ['ap'])
    results = [
        result('scratch', 0, 0.30, 10),
        result('scratch', 1, 0.34, 10),
        result('scratch', 2, None, 10),
        result('pre', 0, 0.40, 20, images=100),
        result('st', 0, 0.42, 50, images=300)
    ]
    data = table_cells(table, study, results)
    cell = data['rows'][0]['cells'][0]
    assert cell['values'] == pytest.approx([30.0, 34.0])
    assert (cell['mean'], cell['std']) == pytest.approx((32.0, 2**1.5))
    text = render_table(data, study, table)
    assert '| scratch | 32.0 ± 2.8 [2/3 seeds] |' in text
    assert '| pre | 40.0 (40.3) |' in text  # the paper's number beside ours
    assert "the paper's number in parentheses" in text
    ratio, = cost_ratios(study, results)
    assert ratio['ratio']['wall_s'] == pytest.approx(2.5)
    assert ratio['ratio']['device_hours'] == pytest.approx(2.5)
    assert ratio['ratio']['images_seen'] == pytest.approx(3.0)
    assert ratio['ratio_with_teacher']['wall_s'] == pytest.approx(3.5)
    assert mean_std([]) == (None, None) and mean_std([1.0]) == (1.0, None)


def test_gains_beside_the_papers():
    """Zoph et al. 2020, Table 2 style: every self-training / ImageNet
    cell's gain over the Rand Init cell of its column, ours (difference of
    the means, hand-computed here) beside the paper's."""

    def a(name, init, aug, seeds, **kw):
        return Arm(
            name, 'x.py', seeds=seeds, labels=dict(init=init, aug=aug), **kw)

    arms = [
        a('rand-s1', 'Rand Init', 's1', [0, 1, 2], reference={'ap': 39.2}),
        a('rand-s4', 'Rand Init', 's4', [0, 1, 2], reference={'ap': 44.3}),
        a('st-s1',
          'Rand Init + ST',
          's1', [0, 1],
          gain_over='rand-s1',
          reference={'ap': 40.9},
          reference_gain={'ap': 1.7}),  # stated
        a('st-s4',
          'Rand Init + ST',
          's4', [0, 1],
          gain_over='rand-s4',
          reference={'ap': 45.6}),  # the paper's gain derived: +1.3
        a('in-s1',
          'ImageNet Init',
          's1', [0, 1],
          gain_over='rand-s1',
          reference_gain={'ap': 0.3}),  # the gain only
    ]
    by_aug = Table('AP', ['ap'], rows=('init', ), columns='aug')
    s4_only = Table('AP', ['ap'], where=dict(aug='s4'))  # rows: arm names
    study = Study('s', 's.py', arms, [Metric('ap', 'AP', 100.0, 1)],
                  [by_aug, s4_only], ['ap'])
    results = [
        result('rand-s1', 0, 0.38, 1),
        result('rand-s1', 1, 0.39, 1),
        result('rand-s1', 2, 0.40, 1),
        result('rand-s4', 0, 0.44, 1),
        result('rand-s4', 1, 0.45, 1),
        result('rand-s4', 2, None, 1),  # not evaluated (yet)
        result('st-s1', 0, 0.395, 1),
        result('st-s1', 1, 0.405, 1),
        result('in-s1', 0, 0.391, 1),  # seed 1 not run; st-s4 not run
    ]
    data = table_cells(by_aug, study, results)
    st, imnet = data['gains']
    assert (st['label'], st['over']) == (['Rand Init + ST'], 'Rand Init')
    cell = st['cells'][0]
    # (39.5 + 40.5) / 2 - (38 + 39 + 40) / 3 = 40 - 39 = 1.0; standard
    # error sqrt(s1^2 / n1 + s2^2 / n2) = sqrt(0.5 / 2 + 1 / 3) = 0.764
    assert cell['gain'] == pytest.approx(1.0)
    assert cell['se'] == pytest.approx((0.5 / 2 + 1 / 3)**0.5)
    assert (cell['reference'], cell['seeds'],
            cell['over_seeds']) == (1.7, [2, 2], [3, 3])
    not_run = st['cells'][1]
    assert (not_run['gain'], not_run['se']) == (None, None)
    assert not_run['reference'] == pytest.approx(45.6 - 44.3)
    assert imnet['cells'][0]['gain'] == pytest.approx(39.1 - 39.0)
    assert imnet['cells'][1] is None  # no ImageNet arm at s4
    text = render_table(data, study, by_aug)
    assert '| init | s1 | s4 |' in text
    assert '| Rand Init | 39.0 ± 1.0 (39.2) | 44.5 ± 0.7 [2/3 seeds] ' \
        '(44.3) |' in text
    assert '| Rand Init + ST | 40.0 ± 0.7 (40.9) | – (45.6) |' in text
    assert '| ImageNet Init | 39.1 [1/2 seeds] |  |' in text  # no value
    assert '| init | over | s1 | s4 |' in text
    assert '| Rand Init + ST | Rand Init | +1.0 ± 0.8 (+1.7) | – (+1.3) |' \
        in text
    assert '| ImageNet Init | Rand Init | +0.1 [1/2 vs 3/3 seeds] (+0.3) ' \
        '|  |' in text
    assert "the paper's gain in parentheses" in text
    # the baseline outside the table: named by its arm name
    data = table_cells(s4_only, study, results)
    assert [r['label'] for r in data['rows']] == [['rand-s4'], ['st-s4']]
    row, = data['gains']
    assert (row['label'], row['over']) == (['st-s4'], 'rand-s4')
    assert '| st-s4 | rand-s4 | – (+1.3) |' in render_table(
        data, study, s4_only)
    # no arm with a gain_over: no gains table
    no_gains = Table('AP', ['ap'], where=dict(init='Rand Init'))
    data = table_cells(no_gains, study, results)
    assert data['gains'] == []
    assert 'Gains' not in render_table(data, study, no_gains)
    assert gain([1.0], []) == (None, None)
    assert gain([2.0], [1.0, None]) == (1.0, None)  # one seed: no error
    assert gain([-0.01], [0.0])[0] == -0.01
