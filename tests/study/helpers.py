"""Study configs for the tests (plain Python literals), running
tools/study.py and reading what it wrote."""
import json
import os
import os.path as osp
import subprocess

import pytest
from mmengine.config import Config

from rethink_mmdet.study.results import History, RunResult
from tests.conftest import REPO, python_tool

STUDIES = osp.join(REPO, 'configs', 'studies')
TINY = osp.join(STUDIES, 'shapes_tiny.py')
SELFTRAIN_TINY = osp.join(STUDIES, 'shapes_selftrain_tiny.py')
SELFTRAIN_STUDENT = osp.join(
    REPO, 'configs', 'shapes', 'mask-rcnn_r18-scratch_fpn_gn-all_selftrain_'
    'shapes.py')


def write_study(path, **keys):
    """A study config file with ``keys`` as top-level assignments."""
    path.write_text(''.join(f'{k} = {v!r}\n' for k, v in keys.items()))
    return str(path)


def shipped(path, root):
    """A shipped study config as a dict for data under ``root``, with its
    arms' configs as absolute paths and its ``_`` helpers kept."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('SHAPES_ROOT', root.rstrip('/'))
        cfg = Config.fromfile(path).to_dict()
    for arm in cfg['arms']:
        for key in ('config', 'teacher_config'):
            if key in arm:
                arm[key] = osp.normpath(osp.join(STUDIES, arm[key]))
    return cfg


def short_options(root):
    """The shipped tiny study's overrides of any shapes config for a run of
    a few iterations on ``root`` (with the train data root)."""
    return dict(
        shipped(TINY, root)['_short_run'],
        **{'train_dataloader.dataset.data_root': root})


def run_study_cli(study, work_dir, *args):
    """``tools/study.py STUDY --work-dir DIR [args]``: ``(exit code,
    output)``."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        python_tool('study.py', study, '--work-dir', work_dir, *args),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


def load_json(*parts):
    with open(osp.join(*parts)) as f:
        return json.load(f)


def scalars(path):
    """The lines of a scalars.json, read directly."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def final_logged(work_dir, key):
    """A key's last value in the newest scalars.json of ``work_dir``."""
    runs = sorted(d for d in os.listdir(work_dir) if d[:8].isdigit())
    lines = scalars(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json'))
    return [r[key] for r in lines if key in r][-1]


def run_result(arm, seed, metrics, status='done', history=None, **kwargs):
    """A hand-made ``RunResult`` of a train arm (no work dir): ``metrics``
    its final values, ``kwargs`` its other fields (``wall_s``,
    ``images_seen``...)."""
    return RunResult(
        id=f'{arm}_seed{seed}',
        arm=arm,
        seed=seed,
        kind='train',
        status=status,
        history=history or History(),
        metrics=metrics,
        **kwargs)
