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


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_mmseg_own_tools_run_our_config(tmp_path, tool):
    root = str(tmp_path / 'shapes')
    make_shapes(root, num_train=4, num_val=2, num_unlabeled=0, image_size=64)
    make_shapes_seg(root, splits=('train', 'val'))
    work = str(tmp_path / 'work')
    opts = [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', 'param_scheduler=[]',
        'env_cfg.dist_cfg.backend=gloo'
    ]
    env = dict(os.environ, PYTHONPATH=REPO, SHAPES_ROOT=root + '/')
    train = subprocess.run([
        sys.executable,
        osp.join(MMSEG_TOOLS, 'train.py'), TINY_SEG, '--work-dir', work,
        '--cfg-options', *opts
    ],
                           capture_output=True,
                           text=True,
                           env=env,
                           cwd=str(tmp_path))
    assert train.returncode == 0, train.stderr[-3000:]
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    if tool == 'train.py':
        return
    test = subprocess.run([
        sys.executable,
        osp.join(MMSEG_TOOLS, 'test.py'), TINY_SEG, ckpt, '--work-dir', work,
        '--cfg-options', *opts
    ],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=str(tmp_path))
    assert test.returncode == 0, test.stderr[-3000:]
    assert 'mIoU' in test.stdout + test.stderr
