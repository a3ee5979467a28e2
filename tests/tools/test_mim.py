"""`mim train/test rethink_mmdet CONFIG` from the editable install and from
a built wheel (configs/ and tools/ shipped in rethink_mmdet/.mim)."""
import json
import os.path as osp
import shutil
import sys

import pytest

from tests.conftest import REPO, run_tool, short_run_options

CONFIG_NAME = 'retinanet_r18-scratch_fpn_gn-all_shapes.py'
MIM = osp.join(osp.dirname(sys.executable), 'mim')


@pytest.fixture(scope='module')
def mim():
    if not osp.isfile(MIM):
        pytest.fail(f'mim not found at {MIM}: install openmim '
                    '(requirements/tests.txt)')
    return MIM


def test_mim_train_and_test_editable(mim, shapes_root, tmp_path):
    # Run from an unrelated directory: mim finds the config by name in
    # rethink_mmdet/.mim/configs (symlinked by the editable install).
    # score_thr=0: after 2 iterations RetinaNet scores sit at the prior.
    opts = short_run_options(
        shapes_root, max_iters=2,
        ckpt_interval=2) + ['model.test_cfg.score_thr=0.0']
    out = run_tool([
        mim, 'train', 'rethink_mmdet', CONFIG_NAME, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options', *opts
    ],
                   cwd=tmp_path)
    assert osp.join('configs', 'shapes', CONFIG_NAME) in out
    ckpt = tmp_path / 'w' / 'iter_2.pth'
    assert ckpt.is_file()
    out = run_tool([
        mim, 'test', 'rethink_mmdet', CONFIG_NAME, '--checkpoint',
        str(ckpt), '--work-dir',
        str(tmp_path / 't'), '--cfg-options', *opts
    ],
                   cwd=tmp_path)
    assert 'coco/bbox_mAP' in out


def test_mim_train_from_built_wheel(mim, shapes_root, tmp_path):
    src = tmp_path / 'src'
    top_level_junk = {'.venv', '.git', 'data', 'work_dirs', 'build', 'dist'}

    def ignore(path, names):
        junk = top_level_junk if osp.samefile(path, REPO) else set()
        return [
            n for n in names
            if n in junk or n in ('.mim',
                                  '__pycache__') or n.endswith('.egg-info')
        ]

    shutil.copytree(REPO, src, ignore=ignore)
    run_tool([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '-w',
        str(tmp_path / 'dist'),
        str(src)
    ],
             cwd=tmp_path)
    wheels = list((tmp_path / 'dist').glob('rethink_mmdet-*.whl'))
    assert len(wheels) == 1
    site = tmp_path / 'site'
    run_tool([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--target',
        str(site),
        str(wheels[0])
    ],
             cwd=tmp_path)
    shipped = site / 'rethink_mmdet' / '.mim'
    assert (shipped / 'configs' / 'shapes' / CONFIG_NAME).is_file()
    assert (shipped / 'tools' / 'train.py').is_file()
    assert not (shipped / 'configs').is_symlink()

    # The wheel's package shadows the editable one via PYTHONPATH.
    opts = short_run_options(shapes_root, max_iters=1, ckpt_interval=1)
    out = run_tool([
        mim, 'train', 'rethink_mmdet', CONFIG_NAME, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options', *opts
    ],
                   cwd=tmp_path,
                   env={'PYTHONPATH': str(site)})
    assert str(shipped / 'configs' / 'shapes' / CONFIG_NAME) in out
    assert (tmp_path / 'w' / 'iter_1.pth').is_file()

    # tools/study.py and tools/self_train.py from the wheel (.mim/tools,
    # outside any checkout) start their stages with the wheel's own tools,
    # not with a tools/ folder beside the package: a tiny self-training
    # study runs to its report (teacher, pseudo labels, student).
    study = shipped / 'configs' / 'studies' / 'shapes_selftrain_tiny.py'
    out = run_tool([
        sys.executable,
        str(shipped / 'tools' / 'study.py'),
        str(study), '--work-dir',
        str(tmp_path / 'study')
    ],
                   cwd=tmp_path,
                   env={
                       'PYTHONPATH': str(site),
                       'SHAPES_ROOT': shapes_root.rstrip('/')
                   })
    tools = str(shipped / 'tools')
    assert f'{tools}/train.py' in out and f'{tools}/self_train.py' in out
    assert osp.join(REPO, 'tools') not in out
    state = json.loads((tmp_path / 'study' / 'study.json').read_text())
    assert {r['status'] for r in state['runs'].values()} == {'done'}
    rounds = tmp_path / 'study' / 'arms' / 'selftrain' / 'seed0'
    record = json.loads((rounds / 'rounds.json').read_text())[0]
    store = record['store']
    assert osp.isfile(osp.join(store, 'meta.json'))
    assert (tmp_path / 'study' / 'report.md').is_file()
