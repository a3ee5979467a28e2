"""The [seg] extra: the detection side never needs MMSegmentation, the
segmentation side fails naming the extra, and a segmentation config runs
with MMSegmentation's own tools through ``custom_imports``."""
import os
import os.path as osp
import subprocess
import sys

import mmseg
import pytest

from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_seg import make_shapes_seg
from rethink_mmdet.seg.requirement import INSTALL_HINT

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_SEG = osp.join(REPO, 'configs', 'shapes', 'seg',
                    'fpn_r18-tiny-scratch_gn_shapes-seg.py')
# mmseg's own tools, shipped in its wheel for mim
MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')

# Python run with mmseg hidden, as on an install without the extra.
WITHOUT_MMSEG = ('import sys; sys.modules["mmseg"] = None; '
                 'sys.argv = ["x"] + sys.argv[1:]; ')


def _python(code, *args, **kwargs):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, '-c', code, *args],
                          capture_output=True,
                          text=True,
                          env=env,
                          **kwargs)


def test_detection_side_imports_without_mmseg():
    proc = _python(WITHOUT_MMSEG + 'import rethink_mmdet, '
                   'rethink_mmdet.self_training; '
                   'assert "mmseg.models" not in sys.modules; print("ok")')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'ok'


def test_seg_without_mmseg_names_the_extra():
    proc = _python(WITHOUT_MMSEG + 'import rethink_mmdet.seg')
    assert proc.returncode != 0
    assert 'MissingSegExtraError' in proc.stderr
    assert INSTALL_HINT in proc.stderr


def test_seg_config_without_mmseg_names_the_extra():
    # a segmentation config's custom_imports, as tools/train.py reads it
    code = WITHOUT_MMSEG + ('from mmengine.config import Config; '
                            f'Config.fromfile({TINY_SEG!r})')
    proc = _python(code)
    assert proc.returncode != 0
    assert INSTALL_HINT in proc.stderr


# Short-run options of the tiny config (mmseg's tools take --cfg-options).
SHORT_RUN = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False', 'param_scheduler=[]',
    'env_cfg.dist_cfg.backend=gloo'
]


def _mmseg_tool(tool, tmp, root, *args):
    """mmseg's own ``tools/<tool>`` on the tiny shapes config, with our
    package on PYTHONPATH only (found through custom_imports)."""
    env = dict(os.environ, PYTHONPATH=REPO, SHAPES_ROOT=root + '/')
    proc = subprocess.run([
        sys.executable,
        osp.join(MMSEG_TOOLS, tool), TINY_SEG, *args, '--cfg-options',
        *SHORT_RUN
    ],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def mmseg_trained(tmp_path_factory):
    """mmseg's tools/train.py: 2 iterations of our config -> work dir."""
    tmp = str(tmp_path_factory.mktemp('mmseg_tools'))
    root = osp.join(tmp, 'shapes')
    make_shapes(root, num_train=4, num_val=2, num_unlabeled=0, image_size=64)
    make_shapes_seg(root, splits=('train', 'val'))
    work = osp.join(tmp, 'work')
    _mmseg_tool('train.py', tmp, root, '--work-dir', work)
    return tmp, root, work


def test_mmseg_own_train_tool_runs_our_config(mmseg_trained):
    _, _, work = mmseg_trained
    assert osp.isfile(osp.join(work, 'iter_2.pth'))


def test_mmseg_own_test_tool_runs_our_config(mmseg_trained):
    tmp, root, work = mmseg_trained
    out = _mmseg_tool('test.py', tmp, root, osp.join(work, 'iter_2.pth'),
                      '--work-dir', work)
    assert 'mIoU' in out
