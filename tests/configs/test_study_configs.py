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
ZOPH_STUDY = osp.join(ZOPH_DIR, 'study_zoph2020_table3.py')
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


def test_zoph2020_table3_study_is_the_papers_table():
    """Table 3 of Zoph et al. 2020 (Aug-S4, 20/50/100% COCO): the paper's
    box AP of every cell, written out here; each self-training arm chains
    its supervised teacher and states its gain over it."""
    study = load_study(ZOPH_STUDY)
    cells = {
        (a.labels['row'], a.labels['labels']): a
        for a in study.arms if a.labels['role'] == 'cell'
    }
    paper = {
        'Rand Init': (30.7, 39.6, 44.3),
        'Rand Init + self-training': (34.1, 41.4, 45.6),
        'ImageNet Init': (33.3, 38.8, 43.3),
        'ImageNet Init + self-training': (36.0, 40.5, 44.6),
        'ImageNet++ Init': (35.9, 39.9, 43.8),
        'ImageNet++ Init + self-training': (37.2, 41.5, 44.6),
    }
    assert len(cells) == 18
    for row, aps in paper.items():
        for frac, ap in zip(('20% COCO', '50% COCO', '100% COCO'), aps):
            assert cells[row, frac].reference[BOX] == ap, (row, frac)
    for arm in study.arms:
        if arm.kind == 'self_train':
            teacher = study.arm(arm.teacher_arm)
            assert arm.gain_over == teacher.name
            assert '_st-in1k-a' in osp.basename(arm.config)
            assert osp.basename(teacher.config).startswith(
                osp.basename(arm.config).split('_st-')[0] + '_32xb8-')
            assert arm.score_thr == 0.5
    st20 = cells['Rand Init + self-training', '20% COCO']
    assert osp.basename(st20.config) == (
        'retinanet_effb7-scratch_fpn_syncbn-all_st-in1k-a3.0_32xb16-aug-s4-'
        '90k_coco-20p.py')
    assert study.paper_gain(st20, BOX) == pytest.approx(3.4)
    in1k20 = cells['ImageNet Init', '20% COCO']
    assert study.arm(in1k20.gain_over).labels['row'] == 'Rand Init'


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
    assert len(cmds) == 18
    teacher = 'effb7-scratch-aug-s4-45k-coco-20p'
    assert 'tools/train.py' in cmds[teacher]
    student = cmds['effb7-scratch-st-in1k-a3.0-aug-s4-90k-coco-20p']
    assert 'tools/self_train.py' in student
    # the teacher arm's final checkpoint (45k iterations, App. H) labels
    # ImageNet train for its student
    assert (f'--teacher-checkpoint {work}/arms/{teacher}/seed0/'
            'iter_45000.pth') in student
    assert '--unlabeled data/imagenet/train' in student
    assert '--score-thr 0.5' in student
