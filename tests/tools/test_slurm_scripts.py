"""tools/slurm_train.sh and tools/slurm_pseudo_label.sh build the srun
command mmdet users know (checked with a stand-in `srun` on PATH, since no
SLURM cluster is reachable here)."""
import os

from tests.conftest import REPO, run_tool


def fake_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    srun.chmod(0o755)
    return {
        'PATH': f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
        'GPUS': '16',
        'GPUS_PER_NODE': '8',
        'SRUN_ARGS': '--qos=high'
    }


def test_slurm_train_command(tmp_path):
    out = run_tool([
        'bash', f'{REPO}/tools/slurm_train.sh', 'part', 'job', 'cfg.py', 'wd',
        '--resume'
    ],
                   env=fake_srun(tmp_path))
    args = out.split('\n')
    assert args[:2] == ['-p', 'part']
    for expected in ('--job-name=job', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--qos=high', 'cfg.py',
                     '--work-dir=wd', '--resume', '--launcher=slurm'):
        assert expected in args, expected
    assert any(a.endswith('tools/train.py') for a in args)


def test_slurm_pseudo_label_command(tmp_path):
    out = run_tool([
        'bash', f'{REPO}/tools/slurm_pseudo_label.sh', 'part', 'job',
        'teacher.py', 'teacher.pth', '--images', 'imgs', '--out', 'store'
    ],
                   env=fake_srun(tmp_path))
    args = out.split('\n')
    script = next(i for i, a in enumerate(args)
                  if a.endswith('tools/pseudo_label.py'))
    assert args[script + 1:script + 8] == [
        'teacher.py', 'teacher.pth', '--images', 'imgs', '--out', 'store',
        '--launcher=slurm'
    ]
