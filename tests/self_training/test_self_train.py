"""Iterative self-training end to end (Zoph et al. 2020, Sec. 3) on the
built-in shapes data, on CPU, through ``tools/self_train.py`` as a real
subprocess: a teacher trained on 6 labeled images, pseudo labels of the 4
unlabeled ones, the normalized-loss student of
configs/shapes/mask-rcnn_r18-scratch_fpn_gn-all_selftrain_shapes.py, two
rounds (the round-1 student labels round 2), every stage resumable.

The test asserts that the pipeline ran and recorded the metrics, not that
the student beats its teacher (a few iterations of training).
"""
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, python_tool, run_tool

SHAPES = osp.join(REPO, 'configs', 'shapes')
TEACHER = osp.join(SHAPES, 'mask-rcnn_r18-scratch_fpn_gn-all_shapes.py')
STUDENT = osp.join(SHAPES,
                   'mask-rcnn_r18-scratch_fpn_gn-all_selftrain_shapes.py')
TEACHER_ITERS, STUDENT_ITERS = 4, 4
SCORE_THR = 0.05  # a 4-iteration teacher scores near its prior
STAGES = ('teacher', 'round1/labels', 'round1/eval_teacher', 'round1/student',
          'round1/eval_student', 'round2/labels', 'round2/student',
          'round2/eval_student')

# Shapes data at `root`, no workers, short runs: the same for teacher and
# student (the student's datasets are a list: whole-list replacement).
_DATA = """
data_root = {root!r}
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters={iters}, val_begin=1000)  # tools/test.py evaluates
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
"""
_TEACHER = """_base_ = {base!r}
{data}
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file={ann!r}))
"""
_STUDENT = """_base_ = {base!r}
{data}
human, pseudo = _base_.train_dataloader.dataset.datasets
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(datasets=[
        dict(human, data_root=data_root, ann_file={ann!r}),
        dict(pseudo, data_root=data_root, score_thr={thr}, keep_empty=True),
    ]))
"""


@pytest.fixture(scope='module')
def configs(shapes_root, tmp_path_factory):
    """Teacher and student configs over the shapes data; the labeled part
    is 6 of the 12 train images (tools/make_subset.py's function)."""
    from rethink_mmdet.data.subset import make_subset
    tmp = tmp_path_factory.mktemp('self_train')
    root = shapes_root.rstrip('/') + '/'
    ann = str(tmp / 'instances_train_6.json')
    make_subset(
        osp.join(root, 'annotations', 'instances_train.json'),
        ann,
        num_images=6,
        seed=0)
    teacher, student = tmp / 'teacher.py', tmp / 'student.py'
    teacher.write_text(
        _TEACHER.format(
            base=TEACHER,
            ann=ann,
            data=_DATA.format(root=root, iters=TEACHER_ITERS)))
    student.write_text(
        _STUDENT.format(
            base=STUDENT,
            ann=ann,
            thr=SCORE_THR,
            data=_DATA.format(root=root, iters=STUDENT_ITERS)))
    return str(teacher), str(student), osp.join(root, 'unlabeled'), tmp


def self_train(configs, work_dir, *extra):
    teacher, student, unlabeled, _ = configs
    return python_tool('self_train.py', student, '--teacher-config', teacher,
                       '--unlabeled', unlabeled, '--work-dir', work_dir,
                       '--rounds', 2, '--score-thr', SCORE_THR,
                       '--cfg-options', 'randomness.seed=0', *extra)


def kill_when(cmd, path, log, timeout=300):
    """Start ``cmd`` in its own process group (output to the file ``log``)
    and SIGKILL the group as soon as ``path`` exists."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    with open(log, 'w') as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.time() + timeout
        while not osp.exists(path):
            if proc.poll() is not None or time.time() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f'{path} never appeared (exit {proc.poll()}):\n'
                            f'{open(log).read()[-6000:]}')
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize(
    'launcher, commands',
    [(('--launcher', 'pytorch', '--gpus', 8),
      (r'dist_train\.sh \S+teacher\.py 8 --work-dir',
       r'dist_pseudo_label\.sh \S+teacher\.py <teacher checkpoint> 8 ',
       r'dist_test\.sh \S+teacher\.py <teacher checkpoint> 8 ')),
     (('--launcher', 'slurm', '--gpus', 16, '--partition', 'P'),
      (r'slurm_train\.sh P self_train_teacher \S+teacher\.py \S+/teacher',
       r'slurm_launch\.sh P self_train_round1_labels pseudo_label\.py ',
       r'slurm_launch\.sh P self_train_round1_eval_teacher test\.py '))],
    ids=['pytorch', 'slurm'])
def test_dry_run_prints_the_stage_commands(configs, tmp_path, launcher,
                                           commands):
    """--dry-run prints every stage's command (through the launcher
    scripts) and runs none."""
    work_dir = tmp_path / 'dry'
    out = run_tool(self_train(configs, work_dir, '--dry-run', *launcher))
    for stage in STAGES:
        assert f'[{stage}] ' in out
    for pattern in commands:
        assert re.search(pattern, out), pattern
    assert not work_dir.exists()


def test_two_rounds_resume_and_skip(configs):
    work_dir = configs[3] / 'work'
    cmd = self_train(configs, work_dir)

    # 1. Killed during the round-1 student, right after its first checkpoint.
    ckpt = work_dir / 'round1' / 'student' / 'last_checkpoint'
    kill_when(cmd, str(ckpt), configs[3] / 'killed.log')
    assert (work_dir / 'teacher' / 'stage_done.json').is_file()
    assert (work_dir / 'round1' / 'labels' / 'meta.json').is_file()
    assert not (work_dir / 'round1' / 'student' / 'stage_done.json').exists()
    killed_at = ckpt.read_text().strip()
    assert killed_at.endswith('iter_2.pth')

    # 2. The same command: finished stages skipped, the student resumes from
    # its checkpoint, both rounds complete.
    out = run_tool(cmd)
    for stage in ('teacher', 'round1/labels', 'round1/eval_teacher'):
        assert f'[{stage}] done, skipped' in out
    student_cmd = [
        line for line in out.splitlines()
        if line.startswith('[round1/student] ')
    ][0]
    assert student_cmd.endswith('--resume')
    assert f'Iter(train) [3/{STUDENT_ITERS}]' in out
    assert f'Iter(train) [1/{STUDENT_ITERS}]' not in out.split(
        '[round2/student]')[0]
    assert 'loss_pseudo' in out and 'pseudo_weight' in out

    records = json.loads((work_dir / 'rounds.json').read_text())
    assert [r['round'] for r in records] == [1, 2]
    for r in records:
        for who in ('teacher', 'student'):
            assert 0 <= r[f'{who}_metrics']['coco/bbox_mAP'] <= 1
            assert 0 <= r[f'{who}_metrics']['coco/segm_mAP'] <= 1
    # round 2: the round-1 student is the teacher
    assert records[1]['teacher_checkpoint'] == \
        records[0]['student_checkpoint']
    assert records[1]['teacher_config'] == records[0]['student_config']
    assert records[1]['teacher_metrics'] == records[0]['student_metrics']
    label_cmd = [
        line for line in out.splitlines()
        if line.startswith('[round2/labels] ')
    ][0]
    assert records[0]['student_checkpoint'] in label_cmd
    for r in records:  # the store each student trained on
        student_cfg = open(r['student_config']).read()
        assert repr(r['store']) in student_cfg

    # 3. The same command once more: every stage is skipped.
    out = run_tool(cmd)
    for stage in STAGES:
        assert f'[{stage}] done, skipped' in out
    assert 'Iter(train)' not in out
    assert json.loads((work_dir / 'rounds.json').read_text()) == records


def test_a_preempted_stage_exits_75_and_is_not_marked_done(tmp_path):
    """A stage that exits 75 (PreemptionCheckpointHook) makes the rounds
    exit 75 too, so that the SLURM job requeues itself and the rerun resumes
    that stage; any other failure stays an error naming the stage."""
    from rethink_mmdet.engine.signals import PREEMPTED_EXIT_CODE
    from rethink_mmdet.self_training.rounds import (SelfTrainingError, Stage,
                                                    _run)
    done = tmp_path / 'done'

    def stage(code):
        return Stage('round1/student',
                     [sys.executable, '-c', f'raise SystemExit({code})'],
                     str(done))

    with pytest.raises(SystemExit) as exit_info:
        _run(stage(PREEMPTED_EXIT_CODE), False, print)
    assert exit_info.value.code == PREEMPTED_EXIT_CODE
    with pytest.raises(
            SelfTrainingError, match='round1/student exited with 3'):
        _run(stage(3), False, print)
    assert not done.exists()
