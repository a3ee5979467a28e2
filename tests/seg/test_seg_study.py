"""The shapes segmentation study (configs/studies/shapes_seg_selftrain.py)
end to end at a few iterations, 2 seeds: teacher -> multi-scale pseudo
label maps of the unlabeled split -> student from the teacher's weights,
through tools/study.py and tools/self_train.py as users run them (also
the test of tools/self_train.py's segmentation path: the student's config,
store and checkpoint keys). The report's numbers equal the runs' own logs
and a direct scoring of the stores; nothing asserts that the student
wins."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_seg import make_shapes_seg
from rethink_mmdet.study.time_scale import TimeScale
from tests.conftest import REPO, python_tool, run_tool
from tests.study.helpers import final_logged, load_json

STUDY = osp.join(REPO, 'configs', 'studies', 'shapes_seg_selftrain.py')
ITERS = 4
METRICS = ('mIoU', 'mAcc', 'aAcc')


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('seg_study')
    root = str(tmp / 'shapes')
    make_shapes(root, num_train=6, num_val=3, num_unlabeled=4, image_size=64)
    make_shapes_seg(root)
    work = str(tmp / 'work')
    out = run_tool(
        python_tool('study.py', STUDY, '--work-dir', work, '--jobs', 2),
        env=dict(
            SHAPES_ROOT=root,
            SHAPES_IMAGE_SIZE='64',
            SEG_STUDY_ITERS=str(ITERS),
            SEG_STUDY_SEEDS='0,1'),
        timeout=900)
    return dict(out=out, work=work, root=root)


def test_report_numbers_equal_the_logs(study):
    work = study['work']
    report = load_json(work, 'report.json')
    runs = {(r['arm'], r['seed']): r for r in report['runs']}
    assert set(runs) == {(a, s)
                         for a in ('teacher', 'selftrain')
                         for s in (0, 1)}
    assert all(r['status'] == 'done' for r in runs.values())
    for seed in (0, 1):
        teacher_dir = osp.join(work, 'arms', 'teacher', f'seed{seed}')
        for key in METRICS:
            assert runs['teacher', seed]['metrics'][key] == final_logged(
                teacher_dir, key)
        rounds = load_json(work, 'arms', 'selftrain', f'seed{seed}',
                           'rounds.json')
        # the student's teacher is the teacher arm of its own seed
        assert rounds[0]['teacher_checkpoint'] == osp.join(
            teacher_dir, f'iter_{ITERS}.pth')
        assert rounds[0]['teacher_metrics']['mIoU'] == \
            runs['teacher', seed]['metrics']['mIoU']
        student = osp.join(work, 'arms', 'selftrain', f'seed{seed}', 'round1',
                           'student')
        for key in METRICS:
            assert runs['selftrain', seed]['metrics'][key] == \
                rounds[-1]['student_metrics'][key] == \
                final_logged(student, key)
    table = report['tables'][0]
    assert table['header'] == list(METRICS)
    cells = {
        (c['arm'], c['metric']): c
        for row in table['rows']
        for c in row['cells'] if c is not None
    }
    for arm in ('teacher', 'selftrain'):
        for key in METRICS:
            assert cells[arm, key]['values'] == [
                runs[arm, s]['metrics'][key] for s in (0, 1)
            ]
    claim, = report['claims']
    assert claim['name'] == 'st-helps-segmentation'
    assert claim['values'] == [
        runs['selftrain', s]['metrics']['mIoU'] for s in (0, 1)
    ]
    assert claim['over_values'] == [
        runs['teacher', s]['metrics']['mIoU'] for s in (0, 1)
    ]
    assert claim['verdict'] in ('agrees', 'disagrees', 'inconclusive')


def test_pseudo_label_maps_and_their_quality(study):
    from rethink_mmdet.seg.quality import score_pseudo_labels
    work, root = study['work'], study['root']
    gt = osp.join(root, 'seg_maps', 'unlabeled')
    quality = load_json(work, 'report.json')['quality']
    assert sorted(q['run']
                  for q in quality) == ['selftrain_seed0', 'selftrain_seed1']
    for q in quality:
        direct = score_pseudo_labels(q['store'], gt)
        assert q['num_images'] == direct['num_images'] == 4
        assert q['kept_fraction'] == direct['kept_fraction']
        assert q['kept_accuracy'] == direct['kept_accuracy']
        meta = load_json(q['store'], 'meta.json')
        # Zoph et al. 2020, Sec. 3.2: 6 scales + flip, threshold 0.5
        assert meta['scales'] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
        assert meta['flip'] is True and meta['prob_thr'] == 0.5
        assert len(glob.glob(osp.join(q['store'], 'labels', '*',
                                      '*.png'))) == 4
    report = open(osp.join(work, 'report.md')).read()
    assert 'pixels kept' in report
    # training never reads the hidden class maps
    for path in glob.glob(osp.join(work, 'configs', '*.py')):
        assert 'seg_maps/unlabeled' not in open(path).read(), path


def test_student_recipe(study):
    work = study['work']
    decay = TimeScale(paper_iters=40000, iters=ITERS).decay(0.9997)
    for seed in (0, 1):
        cfg = Config.fromfile(
            osp.join(work, 'arms', 'selftrain', f'seed{seed}', 'round1',
                     'student_config.py'))
        assert cfg.model.type == 'SelfTrainingSegmentor'
        assert cfg.model.loss_norm.pseudo_weight == 1.0
        assert cfg.model.loss_norm.decay == pytest.approx(decay)
        assert cfg.train_dataloader.batch_size == 8  # 4 human + 4 pseudo
        # from the teacher's weights (Sec. 3.2, App. C)
        assert cfg.load_from.endswith('student_init.pth')
        assert osp.isfile(cfg.load_from)
        record, = load_json(work, 'arms', 'selftrain', f'seed{seed}',
                            'rounds.json')
        assert record['student_init'] == 'teacher'
        assert cfg.load_from == record['student_init_checkpoint']
        _, pseudo = cfg.train_dataloader.dataset.datasets
        assert pseudo.type == 'PseudoSegDataset'
        assert pseudo.store == record['store']
        # the student's checkpoint is the plain segmentor's; the loss
        # normalization's averages travel under their own key
        state = torch.load(record['student_checkpoint'], map_location='cpu')
        assert not any(k.startswith('loss_norm.') for k in state['state_dict'])
        assert int(state['joint_state_dict']['loss_norm.human_count']) == \
            ITERS
