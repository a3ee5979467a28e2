"""The study configs of the two papers' grids (He et al. 2019:
configs/rethinking-imagenet-pretraining/study_*.py; Zoph et al. 2020:
configs/rethinking-self-training/study_*.py) validate, expand to the arms
of the papers' grids with the papers' numbers as references, and
``tools/study.py CONFIG --work-dir D --dry-run`` prints one command per
arm (nothing is trained or written)."""
import glob
import os.path as osp
import re

import pytest

from rethink_mmdet.study import load_study
from tests.conftest import REPO, python_tool, run_tool

HE_DIR = osp.join(REPO, 'configs', 'rethinking-imagenet-pretraining')
ZOPH_DIR = osp.join(REPO, 'configs', 'rethinking-self-training')
HE_STUDY = osp.join(HE_DIR, 'study_he2019_coco.py')
ZOPH_STUDY = osp.join(ZOPH_DIR, 'study_zoph2020_retinanet-effb7_coco.py')
STUDIES = sorted(
    glob.glob(osp.join(HE_DIR, 'study_*.py')) +
    glob.glob(osp.join(ZOPH_DIR, 'study_*.py')))
BOX, MASK, VOC = 'coco/bbox_mAP', 'coco/segm_mAP', 'pascal_voc/mAP'


@pytest.mark.parametrize('path', STUDIES, ids=osp.basename)
def test_every_study_config_validates(path):
    study = load_study(path)
    assert study.arms and study.tables
    for arm in study.arms:
        assert osp.isfile(arm.config), arm.config
        assert set(arm.reference) <= {m.key for m in study.metrics}


def test_he2019_study_is_the_papers_grid_with_its_numbers():
    study = load_study(HE_STUDY)
    arms = {a.name: a for a in study.arms}
    # 2 depths x 2 inits x 5 schedules + 4 subsets x 2 inits + VOC x 2
    assert len(arms) == 20 + 8 + 2
    # The paper's table (box AP), written out, not read from the study.
    for name, ap in (('mask-rcnn-r50-scratch-2x',
                      36.8), ('mask-rcnn-r50-imagenet-2x',
                              40.3), ('mask-rcnn-r101-scratch-6x', 42.7),
                     ('mask-rcnn-r101-imagenet-4x',
                      42.3), ('mask-rcnn-r50-scratch-coco-35k',
                              36.3), ('mask-rcnn-r50-imagenet-coco-10k', 26.0),
                     ('mask-rcnn-r50-scratch-coco-10k',
                      25.9), ('mask-rcnn-r50-imagenet-coco-3.5k',
                              16.0), ('mask-rcnn-r50-scratch-coco-3.5k', 9.3),
                     ('mask-rcnn-r50-imagenet-coco-1k',
                      9.9), ('mask-rcnn-r50-scratch-coco-1k', 3.5)):
        assert arms[name].reference[BOX] == ap, name
    assert arms['mask-rcnn-r50-scratch-6x'].reference[MASK] == 36.6
    assert arms['mask-rcnn-r101-imagenet-6x'].reference[MASK] == 37.2
    assert arms['faster-rcnn-r50-imagenet-voc'].reference == {VOC: 82.7}
    assert arms['faster-rcnn-r50-scratch-voc'].reference == {VOC: 77.6}
    assert osp.basename(arms['mask-rcnn-r101-scratch-3x'].config) == \
        'mask-rcnn_r101-scratch_fpn_gn-all_3x_coco.py'
    assert osp.basename(arms['mask-rcnn-r50-scratch-coco-3.5k'].config) == \
        'mask-rcnn_r50-scratch_fpn_gn-all_ms-512-800-220k_coco-3.5k.py'
    assert arms['mask-rcnn-r50-scratch-4x'].labels == dict(
        data='coco', depth='r50', init='scratch', sched='4x')
    assert [t.columns for t in study.tables] == ['sched', 'data', 'metric']


def test_zoph2020_study_is_the_papers_grid():
    study = load_study(ZOPH_STUDY)
    teachers = [a for a in study.arms if a.kind == 'train']
    students = [a for a in study.arms if a.kind == 'self_train']
    # 20/50/100% x Aug-S1..S4 x {Rand Init, ImageNet Init}, with and
    # without self-training
    assert len(teachers) == len(students) == 3 * 4 * 2
    for student in students:
        teacher = study.arm(student.teacher_arm)
        assert student.name == teacher.name + '-selftrain'
        assert student.counterpart == teacher.name  # the cost ratio
        assert osp.basename(student.config) == osp.basename(
            teacher.config).replace('_coco-', '_selftrain-imagenet_coco-')
        assert student.labels['method'] == 'self-training'
        assert {k: student.labels[k] for k in ('init', 'aug', 'frac')} == \
            {k: teacher.labels[k] for k in ('init', 'aug', 'frac')}
        assert student.score_thr == 0.5
    assert {a.labels['frac'] for a in teachers} == {'20p', '50p', '100p'}


def dry_run(study, tmp_path):
    work = tmp_path / osp.splitext(osp.basename(study))[0]
    out = run_tool(
        python_tool('study.py', study, '--work-dir', work, '--dry-run'))
    assert not work.exists()  # a dry run writes nothing
    return work, re.findall(r'^\[(\S+)_seed(\d+)\] (.+)$', out, re.M)


def test_he2019_dry_run_prints_one_train_command_per_arm(tmp_path):
    work, lines = dry_run(HE_STUDY, tmp_path)
    study = load_study(HE_STUDY)
    assert [name for name, _, _ in lines] == [a.name for a in study.arms]
    for name, seed, cmd in lines:
        assert seed == '0'
        assert 'tools/train.py' in cmd, cmd
        assert f'--work-dir {work}/arms/{name}/seed0' in cmd, cmd


def test_zoph2020_dry_run_chains_teacher_and_student(tmp_path):
    work, lines = dry_run(ZOPH_STUDY, tmp_path)
    cmds = {name: cmd for name, _, cmd in lines}
    assert len(cmds) == 48
    teacher = 'effb7-scratch-aug-s4-coco-20p'
    assert 'tools/train.py' in cmds[teacher]
    student = cmds[teacher + '-selftrain']
    assert 'tools/self_train.py' in student
    # the teacher arm's final checkpoint (1,852,000 iterations) labels
    # ImageNet train for its student
    assert (f'--teacher-checkpoint {work}/arms/{teacher}/seed0/'
            'iter_1852000.pth') in student
    assert '--unlabeled data/imagenet/train' in student
    assert '--score-thr 0.5' in student
