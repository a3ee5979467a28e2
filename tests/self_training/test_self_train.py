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
    # each student starts from its teacher (Zoph et al. 2020, Sec. 3.2)
    for r, teacher in ((1, '<teacher checkpoint>'),
                       (2, '<round1 student checkpoint>')):
        assert (f"[round{r}/student_init] student_init='teacher': starts from "
                f'{teacher} (load_from {work_dir}/round{r}/student_init.pth'
                in out)
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
    # Each student started from its teacher's final weights (Zoph et al.
    # 2020, Sec. 3.2) through load_from: round 1 from the trained teacher,
    # round 2 from the round-1 student without its normalizer's state.
    import torch
    from mmengine.config import Config
    for r in records:
        init = work_dir / f'round{r["round"]}' / 'student_init.pth'
        assert r['student_init'] == 'teacher'
        assert r['student_init_checkpoint'] == str(init)
        saved = torch.load(init, weights_only=True)
        assert saved['meta']['student_init']['source'] == \
            r['teacher_checkpoint']
        cfg = Config.fromfile(r['student_config'])
        assert (cfg.load_from, cfg.resume) == (str(init), False)
    dropped = [
        torch.load(
            work_dir / f'round{r}' / 'student_init.pth',
            weights_only=True)['meta']['student_init']['dropped']
        for r in (1, 2)
    ]
    # JointStateHook keeps the normalizer's averages under their own key, so
    # the round-1 student's state_dict is the plain Mask R-CNN's: nothing to
    # drop, and it loads strictly into the teacher's (plain) config
    assert dropped == [[], []]
    from mmengine.runner import load_checkpoint

    from mmdet.registry import MODELS
    from rethink_mmdet.self_training.joint_hook import JOINT_STATE_KEY
    plain = MODELS.build(Config.fromfile(configs[0]).model)
    for r in records:
        saved = torch.load(r['student_checkpoint'], weights_only=False)
        assert sorted(saved[JOINT_STATE_KEY]) == [
            f'loss_norm.{k}' for k in ('human_avg', 'human_count', 'num_steps',
                                       'pseudo_avg', 'pseudo_count')
        ]
        assert int(saved[JOINT_STATE_KEY]['loss_norm.num_steps']) == \
            STUDENT_ITERS
        load_checkpoint(plain, r['student_checkpoint'], strict=True)
    assert f'Load checkpoint from {work_dir}/round1/student_init.pth' in \
        (configs[3] / 'killed.log').read_text()
    assert f'Load checkpoint from {work_dir}/round2/student_init.pth' in out

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
    from rethink_mmdet.self_training.stages import (SelfTrainingError, Stage,
                                                    run_stage)
    done = tmp_path / 'done'

    def stage(code):
        return Stage('round1/student',
                     [sys.executable, '-c', f'raise SystemExit({code})'],
                     str(done))

    with pytest.raises(SystemExit) as exit_info:
        run_stage(stage(PREEMPTED_EXIT_CODE), False, print)
    assert exit_info.value.code == PREEMPTED_EXIT_CODE
    with pytest.raises(
            SelfTrainingError, match='round1/student exited with 3'):
        run_stage(stage(3), False, print)
    assert not done.exists()


# ----------------------------------------------------------------------
# Where the student starts (Zoph et al. 2020, Sec. 3.2, App. C)
# ----------------------------------------------------------------------
RETINA_STUDENT = osp.join(
    REPO, 'configs', 'studies', 'shapes_mini_replication',
    'retinanet_r18-scratch_fpn_gn-all_selftrain_shapes.py')


def _student_cfg(**changes):
    from mmengine.config import Config
    cfg = Config.fromfile(RETINA_STUDENT)
    cfg.merge_from_dict(changes)
    return cfg


def _warm_student_checkpoint(path, mark=None):
    """A student checkpoint (the round-2 teacher) whose normalizer has
    warmed up, with a scratch-guard mark in its meta."""
    import torch

    from rethink_mmdet.self_training.student_init import _build_model
    model = _build_model(_student_cfg())
    assert type(model).__name__ == 'SelfTrainingDetector'
    with torch.no_grad():
        model.loss_norm.human_avg.fill_(2.5)
        model.loss_norm.pseudo_avg.fill_(0.5)
        model.loss_norm.human_count.fill_(7)
        model.loss_norm.pseudo_count.fill_(7)
        model.loss_norm.num_steps.fill_(7)
    meta = dict(iter=7, scratch_guard=mark or dict(fingerprint='f' * 64))
    torch.save(
        dict(
            meta=meta,
            state_dict=model.state_dict(),
            optimizer=dict(state={}, param_groups=[])), str(path))
    return model


def test_student_init_value_precedence_and_errors(tmp_path):
    from rethink_mmdet.self_training.student_init import (StudentInitError,
                                                          student_init_value)
    cfg = _student_cfg()
    assert student_init_value(cfg) == 'teacher'  # the paper's default
    cfg.student_init = 'random'
    assert student_init_value(cfg) == 'random'  # the config's key
    assert student_init_value(cfg, 'teacher') == 'teacher'  # the flag wins
    ckpt = tmp_path / 'c.pth'
    ckpt.write_bytes(b'')
    assert student_init_value(None, str(ckpt)) == str(ckpt)
    for bad in ('teachr', str(tmp_path / 'missing.pth')):
        with pytest.raises(StudentInitError) as info:
            student_init_value(cfg, bad)
        for words in (repr(bad), '--student-init', "'teacher'", "'random'"):
            assert words in str(info.value)


def test_prepared_start_weights_leave_the_normalizer_fresh(tmp_path):
    """Round 2: the teacher is a student. Its weights, not its warmed-up
    loss normalization, reach the new student through mmengine's ordinary
    load_from (real Runner)."""
    import torch
    from mmengine.runner import Runner

    from rethink_mmdet.self_training.student_init import (apply_student_init,
                                                          prepare_student_init)
    teacher = _warm_student_checkpoint(tmp_path / 'round1_student.pth')
    out = str(tmp_path / 'student_init.pth')
    cfg = _student_cfg()
    assert prepare_student_init(cfg, str(tmp_path / 'round1_student.pth'), out,
                                'teacher') == out
    saved = torch.load(out, weights_only=True)
    assert set(saved) == {'meta', 'state_dict'}  # no optimizer, no iter
    assert not any(k.startswith('loss_norm.') for k in saved['state_dict'])
    assert saved['meta']['scratch_guard'] == dict(fingerprint='f' * 64)
    assert saved['meta']['student_init']['source'] == str(tmp_path /
                                                          'round1_student.pth')
    assert len(saved['meta']['student_init']['dropped']) == 5

    apply_student_init(cfg, 'teacher', out)
    assert (cfg.load_from, cfg.resume, cfg.student_init) == (out, False,
                                                             'teacher')
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = cfg.visualizer.name = 'student_init_fresh'
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    model = runner.model
    for name, buf in model.loss_norm.named_buffers():
        assert float(buf) == 0, name  # un-warmed: as a fresh student
    reference = teacher.state_dict()
    weights = model.state_dict()
    assert [k for k in weights if not k.startswith('loss_norm.')] == \
        list(saved['state_dict'])
    for key, value in saved['state_dict'].items():
        assert torch.equal(weights[key], reference[key]), key


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    """mmengine's load_from would warn and train the rest from random
    init; the switch refuses, naming the key, the weights and the fix."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmdet.registry import MODELS
    from rethink_mmdet.self_training.student_init import (StudentInitError,
                                                          prepare_student_init)
    with DefaultScope.overwrite_default_scope('mmdet'):
        mask_rcnn = MODELS.build(Config.fromfile(TEACHER).model)
    path = str(tmp_path / 'mask_rcnn.pth')
    torch.save(dict(state_dict=mask_rcnn.state_dict()), path)
    with pytest.raises(StudentInitError) as info:
        prepare_student_init(_student_cfg(), path, str(tmp_path / 'out.pth'),
                             path)
    text = str(info.value)
    for words in (f'student_init={path!r}', 'is not a checkpoint of this '
                  "student's detector (SelfTrainingDetector around "
                  'RetinaNet)', "of the student's 100 weights are not in it",
                  'have another shape (neck.lateral_convs.0.conv.weight: '
                  '(32, 16, 1, 1) there, (32, 32, 1, 1) here',
                  'of its keys are not in the student', '--teacher-config',
                  "student_init='random'", 'App. C'):
        assert words in text, text
    assert not osp.exists(tmp_path / 'out.pth')


def test_random_init_and_an_own_load_from(configs, tmp_path):
    """'random' leaves the student config's own init; a student config
    with its own load_from is refused before any stage runs."""
    from mmengine.config import Config

    from rethink_mmdet.self_training.rounds import (SelfTrainingError,
                                                    run_self_training,
                                                    write_student_config)
    teacher, student, unlabeled, _ = configs
    out = write_student_config(
        student,
        str(tmp_path / 'labels'),
        str(tmp_path / 'random.py'),
        student_init='random')
    cfg = Config.fromfile(out)
    assert cfg.student_init == 'random' and cfg.load_from is None
    lines = []
    run_self_training(
        student,
        str(tmp_path / 'dry'),
        unlabeled,
        teacher,
        teacher_checkpoint='t.pth',
        student_init='random',
        dry_run=True,
        log=lines.append)
    assert "[round1/student_init] student_init='random': starts from the " \
        "student config's own init" in lines
    with pytest.raises(SelfTrainingError, match="student_init='x.pth'"):
        run_self_training(
            student,
            str(tmp_path / 'own'),
            unlabeled,
            teacher,
            cfg_options={'load_from': 'x.pth'},
            dry_run=True)
    assert not (tmp_path / 'own').exists()
