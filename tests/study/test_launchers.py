"""Dry runs: the command every launcher would run, for training and
self-training arms, with --resume where a checkpoint exists; nothing is
written."""
import importlib.util
import os
import shlex
import sys

import pytest
from mmengine.config import Config

from rethink_mmdet.study.local import dependency_problem, thread_env
from rethink_mmdet.study.plan import TOOLS, Launcher, plan_runs
from rethink_mmdet.study.runner import run_study
from rethink_mmdet.study.schema import StudyConfigError
from rethink_mmdet.study.state import StudyState
from rethink_mmdet.study.validate import load_study
from tests.conftest import MASK_RCNN, REPO, RETINANET, python_tool, run_tool
from tests.study.helpers import SELFTRAIN_STUDENT, write_study

#: The fine-tune arm of the shapes study: its backbone init_cfg holds the
#: checkpoint key that an init arm fills.
RETINANET_PRETRAINED = os.path.join(
    REPO, 'configs', 'shapes', 'retinanet_r18-pretrained_fpn_gn-all_shapes.py')

ARMS = [
    dict(name='teacher', config=MASK_RCNN, seeds=[0, 1]),
    dict(
        name='plain', config=RETINANET, cfg_options={'train_cfg.max_iters':
                                                     6}),
    dict(
        name='st',
        kind='self_train',
        config=SELFTRAIN_STUDENT,
        teacher_arm='teacher',
        unlabeled='/data/unlabeled.json',
        img_root='/data/unlabeled',
        score_thr=0.3,
        seed=1),
]


def dry_run(tmp_path, launcher, arms=ARMS):
    study = write_study(
        tmp_path / 'study.py', arms=arms, metrics=['coco/bbox_mAP'])
    lines = []
    run_study(
        study, str(tmp_path / 'dir'), launcher, dry_run=True, log=lines.append)
    # a dry run writes nothing
    assert not (tmp_path / 'dir' / 'study.json').exists()
    assert not (tmp_path / 'dir' / 'configs').exists()
    return {
        line.split(']')[0][1:]: shlex.split(line.split('] ', 1)[1])
        for line in lines
    }


def test_local_commands(tmp_path):
    cmds = dry_run(tmp_path, Launcher())
    # teachers first, then the study order
    assert list(cmds) == [
        'teacher_seed0', 'teacher_seed1', 'plain_seed0', 'st_seed1'
    ]
    d = str(tmp_path / 'dir')
    assert cmds['plain_seed0'] == [
        sys.executable, f'{TOOLS}/train.py', f'{d}/configs/plain_seed0.py',
        '--work-dir', f'{d}/arms/plain/seed0'
    ]
    assert cmds['st_seed1'] == [
        sys.executable, f'{TOOLS}/self_train.py',
        f'{d}/configs/st_seed1_student.py', '--teacher-config',
        f'{d}/configs/teacher_seed1.py', '--teacher-checkpoint',
        f'{d}/arms/teacher/seed1/iter_800.pth', '--unlabeled',
        '/data/unlabeled.json', '--work-dir', f'{d}/arms/st/seed1', '--rounds',
        '1', '--score-thr', '0.3', '--img-root', '/data/unlabeled'
    ]


def test_init_arm_runs_after_it_from_its_final_checkpoint(tmp_path):
    """An arm listed before its init arm still runs after it; every seed
    starts from the init arm's only run, whose final checkpoint (known
    before it exists) is in the run's config at init_key."""
    arms = [
        dict(
            name='finetune',
            config=RETINANET_PRETRAINED,
            init_arm='pre',
            init_key='model.backbone.init_cfg.checkpoint',
            seeds=[0, 1]),
        dict(
            name='pre',
            config=MASK_RCNN,
            cfg_options={'train_cfg.max_iters': 7}),
    ]
    study = load_study(
        write_study(tmp_path / 's.py', arms=arms, metrics=['coco/bbox_mAP']))
    runs = plan_runs(study, str(tmp_path / 'dir'))
    assert [r.id for r in runs
            ] == ['pre_seed0', 'finetune_seed0', 'finetune_seed1']
    final = str(tmp_path / 'dir' / 'arms' / 'pre' / 'seed0' / 'iter_7.pth')
    for run in runs[1:]:
        assert (run.init_run, run.init_checkpoint) == ('pre_seed0', final)
        assert run.depends == ['pre_seed0']
        cfg = Config.fromfile(run.config)
        assert cfg.model.backbone.init_cfg.checkpoint == final
        assert cfg.randomness.seed == run.seed
    # a dependency that has not finished: the run does not start
    state = StudyState(str(tmp_path / 'dir'))
    for run in runs:
        state.upsert(dict(id=run.id, work_dir=run.work_dir))
    assert 'run pre_seed0, which it needs, is pending' in dependency_problem(
        runs[1], state)
    state.runs['pre_seed0']['status'] = 'done'
    assert 'iter_7.pth of run pre_seed0 does not exist' in dependency_problem(
        runs[1], state)


def test_jobs_threads_and_launcher_check(tmp_path):
    cores = os.cpu_count()
    assert thread_env(1, {}) == {}
    assert thread_env(2, {}) == {
        'OMP_NUM_THREADS': str(max(1, cores // 2)),
        'MKL_NUM_THREADS': str(max(1, cores // 2))
    }
    # the environment's own setting wins
    assert 'OMP_NUM_THREADS' not in thread_env(2, {'OMP_NUM_THREADS': '3'})
    with pytest.raises(StudyConfigError, match='only with --launcher none'):
        run_study(
            write_study(tmp_path / 's.py', arms=ARMS, metrics=['x']),
            str(tmp_path / 'd'),
            Launcher('pytorch', gpus=2),
            jobs=2)


def test_pytorch_commands_and_resume(tmp_path):
    work = tmp_path / 'dir' / 'arms' / 'plain' / 'seed0'
    cmds = dry_run(tmp_path, Launcher('pytorch', gpus=4))
    d = str(tmp_path / 'dir')
    assert cmds['plain_seed0'] == [
        'bash', f'{TOOLS}/dist_train.sh', f'{d}/configs/plain_seed0.py', '4',
        '--work-dir',
        str(work)
    ]
    assert cmds['st_seed1'][-4:] == ['--launcher', 'pytorch', '--gpus', '4']
    # an interrupted run: its work dir has a last_checkpoint
    work.mkdir(parents=True)
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    cmds = dry_run(tmp_path, Launcher('pytorch', gpus=4))
    assert cmds['plain_seed0'][-1] == '--resume'
    assert '--resume' not in cmds['teacher_seed0']


def test_slurm_commands(tmp_path):
    cmds = dry_run(
        tmp_path,
        Launcher(
            'slurm', gpus=16, partition='gpu',
            sbatch_args=['--time=72:00:00']))
    d = str(tmp_path / 'dir')
    assert cmds['plain_seed0'] == [
        'sbatch', '--parsable', '-p', 'gpu', '-J', 'study_plain_seed0',
        '--ntasks=16', '--cpus-per-task=5', '-o',
        f'{d}/arms/plain/seed0/slurm-%j.out', '--gres=gpu:8',
        '--ntasks-per-node=8', '--time=72:00:00',
        f'{TOOLS}/slurm_train.sbatch', f'{d}/configs/plain_seed0.py',
        f'{d}/arms/plain/seed0'
    ]
    st = cmds['st_seed1']
    assert st[:2] == ['sbatch', '--parsable'] and st[-2] == '--wrap'
    assert {'--requeue', '--signal=USR1@180'} <= set(st)
    command, requeue = st[-1].split('; ', 1)
    assert requeue.startswith('rc=$?; if [ "$rc" -eq 75 ]; then scontrol '
                              'requeue "$SLURM_JOB_ID"; fi')
    wrapped = shlex.split(command)
    assert wrapped[1] == f'{TOOLS}/self_train.py'
    assert wrapped[-6:] == [
        '--launcher', 'slurm', '--gpus', '16', '--partition', 'gpu'
    ]


def test_slurm_dependency_and_cpu_nodes(tmp_path):
    study = load_study(
        write_study(tmp_path / 's.py', arms=ARMS, metrics=['coco/bbox_mAP']))
    runs = {r.id: r for r in plan_runs(study, str(tmp_path), write=False)}
    cpu = Launcher('slurm', gpus=2, partition='cpu', gpus_per_node=0)
    cmd = cpu.self_train_command(runs['st_seed1'], 'ckpt.pth', after='41')
    assert '--dependency=afterok:41' in cmd
    assert not any(c.startswith('--gres') for c in cmd)
    assert cpu.env()['GPUS_PER_NODE'] == '0'


def study_cli():
    """tools/study.py as a module (its main(argv) returns the exit code)."""
    spec = importlib.util.spec_from_file_location(
        'study_cli', os.path.join(REPO, 'tools', 'study.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli_dry_run(tmp_path):
    study = write_study(
        tmp_path / 'study.py', arms=ARMS[1:2], metrics=['coco/bbox_mAP'])
    out = run_tool(
        python_tool('study.py', study, '--work-dir', tmp_path / 'dir',
                    '--dry-run', '--launcher', 'pytorch', '--gpus', '2'))
    assert f'{TOOLS}/dist_train.sh' in out
    assert not os.path.exists(tmp_path / 'dir')


def test_cli_errors(tmp_path, capsys):
    main = study_cli()
    bad = write_study(tmp_path / 'bad.py', arms=[], metrics=['x'])
    assert main([bad, '--work-dir', str(tmp_path / 'd')]) == 2
    assert 'no arms' in capsys.readouterr().err
    good = write_study(tmp_path / 'good.py', arms=ARMS[1:2], metrics=['x'])
    assert main(
        [good, '--work-dir',
         str(tmp_path / 'd'), '--launcher', 'slurm']) == 2
    assert 'needs --partition' in capsys.readouterr().err
    assert main(['status', str(tmp_path / 'nowhere')]) == 2
    assert 'not a study directory' in capsys.readouterr().err


def test_student_init_reaches_self_train(tmp_path):
    """A self_train arm's student_init (Zoph et al. 2020, App. C: 'random';
    a grid over 'teacher' / 'random' gives Table 10) is passed to
    tools/self_train.py as --student-init; unset, the student config's own
    key decides (default 'teacher'); a path is resolved against the study
    folder; a bad value names the key."""
    ckpt = tmp_path / 'start.pth'
    ckpt.write_bytes(b'')
    arms = ARMS[:1] + [
        dict(
            ARMS[2],
            name='st-{init}',
            grid=dict(init=['teacher', 'random', 'start.pth']),
            student_init='{init}'),
        dict(ARMS[2], name='st-default'),
    ]
    cmds = dry_run(tmp_path, Launcher(), arms)

    def flag(cmd):
        return cmd[cmd.index('--student-init') + 1] \
            if '--student-init' in cmd else None

    assert flag(cmds['st-teacher_seed1']) == 'teacher'
    assert flag(cmds['st-random_seed1']) == 'random'
    assert flag(cmds['st-start.pth_seed1']) == str(ckpt)
    assert flag(cmds['st-default_seed1']) is None
    for bad, words in ((3, "student_init=3"),
                       ('teachr', "student_init: 'teachr' does not exist")):
        study = write_study(
            tmp_path / 'bad.py',
            arms=ARMS[:1] + [dict(ARMS[2], student_init=bad)],
            metrics=['coco/bbox_mAP'])
        with pytest.raises(StudyConfigError, match=words):
            load_study(study)


def test_shared_overrides_with_delete_merge_for_every_run(tmp_path):
    """Arms and seeds share their override dicts: a ``_delete_=True`` in
    one (e.g. the pre-trained init replacing a scratch model's
    ``init_cfg=None``) works for every run, not only the first that
    mmengine's merge consumed it in."""
    from mmengine.config import ConfigDict

    from rethink_mmdet.study.plan import derive_config
    options = {  # as read from a study config: ConfigDict values
        'model.backbone.init_cfg':
        ConfigDict(_delete_=True, type='Pretrained', checkpoint=None),
        'model.backbone.init_cfg.checkpoint': 'a.pth',
    }
    before = repr(options)
    for seed in (0, 1):
        cfg = derive_config(RETINANET, options, seed)
        assert cfg.model.backbone.init_cfg == dict(
            type='Pretrained', checkpoint='a.pth')
        assert cfg.randomness.seed == seed
    assert repr(options) == before
