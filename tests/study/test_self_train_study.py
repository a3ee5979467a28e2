"""A self-training arm end to end: a Mask R-CNN teacher arm, and a
self-training arm that pseudo-labels with the teacher run's final
checkpoint and trains the student through tools/self_train.py. The report
carries the student's metrics, its cost against the teacher (with and
without the teacher's own training), the student's loss curves and the
pseudo labels' quality against hidden ground truth (here the val split
stands in for an unlabeled set whose annotations are known)."""
import os.path as osp

import pytest

from rethink_mmdet.study.quality import pseudo_label_quality
from tests.conftest import MASK_RCNN
from tests.study.helpers import (SELFTRAIN_STUDENT, load_json, run_study_cli,
                                 short_options, write_study)

THR = 0.05  # a 4-iteration teacher scores far below Zoph et al.'s 0.5


@pytest.fixture(scope='module')
def study(shapes_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('st_study')
    short = short_options(shapes_root)
    val = osp.join(shapes_root, 'annotations', 'instances_val.json')
    prefix = 'train_dataloader.dataset.'
    student = {
        k.replace(prefix, prefix + 'datasets.0.'): v
        for k, v in short.items()
    }
    student.update({
        prefix + 'datasets.1.data_root': shapes_root,
        prefix + 'datasets.1.data_prefix.img': 'val/',
        prefix + 'datasets.1.score_thr': THR,
        'train_cfg.max_iters': 4,
    })
    arms = [
        dict(
            name='teacher',
            config=MASK_RCNN,
            labels=dict(method='sup'),
            cfg_options={
                **short, 'train_cfg.max_iters': 4
            }),
        dict(
            name='selftrain',
            kind='self_train',
            config=SELFTRAIN_STUDENT,
            labels=dict(method='self-training'),
            cfg_options=student,
            teacher_arm='teacher',
            unlabeled=val,
            img_root=osp.join(shapes_root, 'val'),
            score_thr=THR,
            pseudo_gt=val,
            quality_thrs=[0.3]),
    ]
    path = write_study(
        tmp / 'study.py',
        name='st',
        arms=arms,
        metrics=['coco/bbox_mAP_50', 'coco/segm_mAP_50'],
        tables=[dict(rows='method')])
    work_dir = str(tmp / 'dir')
    rc, out = run_study_cli(path, work_dir)
    assert rc == 0, out[-4000:]
    return work_dir


def test_student_metrics_from_its_evaluation(study):
    report = load_json(study, 'report.json')
    rounds = load_json(study, 'arms', 'selftrain', 'seed0', 'rounds.json')
    runs = {r['id']: r for r in report['runs']}
    assert runs['selftrain_seed0']['metrics']['coco/segm_mAP_50'] == rounds[
        -1]['student_metrics']['coco/segm_mAP_50']
    assert rounds[0]['teacher_checkpoint'] == osp.join(study, 'arms',
                                                       'teacher', 'seed0',
                                                       'iter_4.pth')


def test_cost_against_the_teacher(study):
    report = load_json(study, 'report.json')
    runs = {r['id']: r for r in report['runs']}
    st, t = runs['selftrain_seed0'], runs['teacher_seed0']
    ratio, = report['ratios']
    assert (ratio['arm'], ratio['counterpart']) == ('selftrain', 'teacher')
    assert ratio['ratio']['wall_s'] == pytest.approx(st['wall_s'] /
                                                     t['wall_s'])
    assert ratio['ratio_with_teacher']['images_seen'] == pytest.approx(
        (st['images_seen'] + t['images_seen']) / t['images_seen'])
    assert st['images_seen'] == 16  # the student's 4 x (2 human + 2 pseudo)
    assert {'student', 'evaluation'} <= set(st['stages'])
    md = open(osp.join(study, 'report.md')).read()
    assert '### Cost against the counterpart' in md and '1.3x to 8x' in md


def test_pseudo_label_quality(study, shapes_root):
    q, = load_json(study, 'report.json')['quality']
    val = osp.join(shapes_root, 'annotations', 'instances_val.json')
    # the labeler's floor (= the student's score_thr) and quality_thrs
    assert [p['thr'] for p in q['pr']] == [THR, 0.3]
    direct = pseudo_label_quality(q['store'], val, [THR, 0.3])
    assert {k: q[k] for k in direct} == direct
    assert q['images'] == 6
    assert '## Pseudo-label quality' in open(osp.join(study,
                                                      'report.md')).read()


def test_self_training_loss_plot(study):
    plots = [osp.basename(p) for p in load_json(study, 'report.json')['plots']]
    assert 'self_training_losses.png' in plots
