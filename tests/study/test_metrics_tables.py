"""Reading mmengine's scalar logs (resumed runs, evaluations logged with
the epoch as step, a truncated last line) and the table / cost
arithmetic."""
import json

import pytest

from rethink_mmdet.study.metrics import read_history
from rethink_mmdet.study.results import History, RunResult
from rethink_mmdet.study.schema import Arm, Metric, Study, Table
from rethink_mmdet.study.tables import (cost_ratios, mean_std, render_table,
                                        table_cells)


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
    return RunResult(
        id=f'{arm}_seed{seed}',
        arm=arm,
        seed=seed,
        kind='train',
        status='done',
        history=History(),
        metrics={'ap': value},
        wall_s=wall,
        processes=2,
        images_seen=images)


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
