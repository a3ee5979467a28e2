"""The main job (tools/shapes_demo.py) end to end at a tiny size: the real
mini-replication study (configs/studies/shapes_mini_replication.py, every
arm, a few iterations each through its MINI_* knobs, 2 arms at a time)
on freshly generated data. Its printed tables are the report's, whose
numbers equal the arms' own logs; the pre-trained arms start from the
pre-training arm's final checkpoint; the students learn from the teacher
arm's pseudo labels, scored against the hidden ground truth that no
training config names; the plots exist. (This also covers self-training
arms in a study: the student's metrics from its tools/test.py evaluation,
its cost against the teacher, the quality section, the loss plots.)"""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

from rethink_mmdet.study.quality import pseudo_label_quality
from tests.conftest import python_tool, run_tool
from tests.study.helpers import final_logged, load_json

KNOBS = dict(
    MINI_ITERS_PER_X='3',
    MINI_PRETRAIN_ITERS='4',
    MINI_LABELED='8',
    MINI_PSEUDO_THR='0.0',
    MINI_TEST_SCORE_THR='0.0')
HE_ARMS = ('scratch-2x', 'scratch-6x', 'pretrained-2x', 'pretrained-6x')
SUPERVISED = ('teacher', 'supervised-aug-s4')
STUDENTS = tuple(f'student-{a}-{n}' for a in ('aug-s1', 'aug-s4')
                 for n in ('norm', 'plain'))


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('demo')
    work = tmp / 'work'
    out = run_tool(
        python_tool('shapes_demo.py', '--work-dir', work, '--data-root',
                    tmp / 'shapes', '--cls-root', tmp / 'cls', '--num-train',
                    12, '--num-val', 6, '--num-unlabeled', 6,
                    '--num-cls-train', 16, '--num-cls-val', 8, '--jobs', 2),
        env=KNOBS,
        timeout=1500)
    return dict(out=out, work=str(work), root=str(tmp / 'shapes'))


def test_prints_the_report_tables_and_plots(demo):
    out, work = demo['out'], demo['work']
    report = open(osp.join(work, 'report.md')).read()
    tables = report.split('## Plots')[0].rstrip()
    assert tables.split('\n', 1)[1] in out  # printed as written
    for title in ('He et al. 2019 (Table 1 layout)',
                  'Zoph et al. 2020 (Table 2 layout)', 'Pseudo-label quality',
                  'Cost against the counterpart'):
        assert title in tables
    plots = load_json(work, 'report.json')['plots']
    assert {osp.basename(p)
            for p in plots} >= {
                'coco_bbox_mAP_vs_iter.png',
                'coco_bbox_mAP_vs_images_seen.png', 'loss.png',
                'self_training_losses.png'
            }
    for p in plots:
        assert f'Plot: {p}' in out
        with open(p, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_tables_equal_the_logs(demo):
    work = demo['work']
    runs = {r['arm']: r for r in load_json(work, 'report.json')['runs']}
    assert set(runs) == {'pretrain', *HE_ARMS, *SUPERVISED, *STUDENTS}
    assert all(r['status'] == 'done' for r in runs.values())
    for arm in HE_ARMS + SUPERVISED:
        logged = final_logged(
            osp.join(work, 'arms', arm, 'seed0'), 'coco/bbox_mAP')
        assert runs[arm]['metrics']['coco/bbox_mAP'] == logged
    for arm in STUDENTS:
        rounds = load_json(work, 'arms', arm, 'seed0', 'rounds.json')
        assert runs[arm]['metrics']['coco/bbox_mAP'] == rounds[-1][
            'student_metrics']['coco/bbox_mAP']
        assert rounds[0]['teacher_checkpoint'] == osp.join(
            work, 'arms', 'teacher', 'seed0', 'iter_18.pth')  # 6x of 3
        assert {'student', 'evaluation'} <= set(runs[arm]['stages'])
    he = load_json(work, 'report.json')['tables'][0]
    assert he['header'] == ['2x', '6x']
    cells = {c['arm']: c for row in he['rows'] for c in row['cells']}
    for arm in HE_ARMS:
        assert cells[arm]['values'] == [
            100 * runs[arm]['metrics']['coco/bbox_mAP']
        ]
    # images seen: 6x is three times 2x, batch 4 (He et al. Fig. 2)
    assert runs['scratch-6x']['images_seen'] == 18 * 4
    assert runs['scratch-2x']['images_seen'] == 6 * 4
    assert all(r['cpu_s'] > 0 for r in runs.values())


def test_pretrained_arms_start_from_the_pretraining(demo):
    work = demo['work']
    final = osp.join(work, 'arms', 'pretrain', 'seed0', 'iter_4.pth')
    assert osp.isfile(final)
    for sched in ('2x', '6x'):
        cfg = Config.fromfile(
            osp.join(work, 'configs', f'pretrained-{sched}_seed0.py'))
        assert cfg.model.backbone_init_cfg.checkpoint == final
        scratch = Config.fromfile(
            osp.join(work, 'configs', f'scratch-{sched}_seed0.py'))
        assert 'backbone_init_cfg' not in scratch.model
    ratios = {r['arm']: r for r in load_json(work, 'report.json')['ratios']}
    runs = {r['arm']: r for r in load_json(work, 'report.json')['runs']}
    row = ratios['pretrained-6x']
    assert (row['counterpart'], row['upstream']) == ('scratch-6x', 'pretrain')
    assert row['ratio']['images_seen'] == 1.0
    assert row['ratio_with_teacher']['images_seen'] == pytest.approx(
        (runs['pretrained-6x']['images_seen'] +
         runs['pretrain']['images_seen']) / runs['scratch-6x']['images_seen'])


def test_pseudo_labels_and_their_hidden_ground_truth(demo):
    work, root = demo['work'], demo['root']
    hidden = osp.join(root, 'annotations', 'instances_unlabeled_hidden.json')
    quality = load_json(work, 'report.json')['quality']
    assert sorted(q['run'] for q in quality) == sorted(f'{s}_seed0'
                                                       for s in STUDENTS)
    q = quality[0]
    direct = pseudo_label_quality(q['store'], hidden,
                                  [p['thr'] for p in q['pr']])
    assert {k: q[k] for k in direct} == direct
    assert q['images'] == 6 and [p['thr'] for p in q['pr']] == [0.0, 0.5]
    # training never reads the hidden ground truth
    for path in glob.glob(osp.join(work, 'configs', '*.py')):
        assert 'instances_unlabeled_hidden' not in open(path).read(), path
    ratio = {r['arm']: r for r in load_json(work, 'report.json')['ratios']}
    assert ratio['student-aug-s4-norm']['counterpart'] == 'teacher'
    norm = {
        s:
        Config.fromfile(
            osp.join(work, 'configs',
                     f'{s}_seed0_student.py')).model.loss_norm.normalize
        for s in STUDENTS
    }
    assert norm == {s: s.endswith('-norm') for s in STUDENTS}
    state = json.load(open(osp.join(work, 'study.json')))
    assert state['runs']['student-aug-s1-norm_seed0']['command'][1].endswith(
        'self_train.py')
