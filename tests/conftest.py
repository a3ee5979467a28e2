"""Shared fixtures: a small built-in shapes dataset and tool runners.

Everything runs on CPU on data the package generates; tools run as real
subprocesses (``tools/*.py``, ``tools/*.sh``, ``mim``) exactly as users run
them.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MASK_RCNN = osp.join(REPO, 'configs', 'shapes',
                     'mask-rcnn_r18-scratch_fpn_gn-all_shapes.py')
RETINANET = osp.join(REPO, 'configs', 'shapes',
                     'retinanet_r18-scratch_fpn_gn-all_shapes.py')
SHAPES_CONFIGS = (MASK_RCNN, RETINANET)


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A small shapes dataset (12 train, 6 val, 4 unlabeled images)."""
    from rethink_mmdet.data import make_shapes
    root = str(tmp_path_factory.mktemp('shapes'))
    make_shapes(root, num_train=12, num_val=6, num_unlabeled=4, seed=0)
    return root


def short_run_options(data_root, max_iters=4, ckpt_interval=2):
    """``--cfg-options`` pointing a shapes config at ``data_root`` for a short
    single-worker run that checkpoints every ``ckpt_interval`` iterations and
    evaluates at the end."""
    data_root = data_root.rstrip('/') + '/'
    val_ann = osp.join(data_root, 'annotations', 'instances_val.json')
    opts = {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'val_evaluator.ann_file': val_ann,
        'test_evaluator.ann_file': val_ann,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters,
        'default_hooks.checkpoint.interval': ckpt_interval,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
    }
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.num_workers'] = 0
        opts[f'{split}_dataloader.persistent_workers'] = False
    return [f'{k}={v}' for k, v in opts.items()]


def run_tool(cmd, cwd=REPO, env=None, timeout=600):
    """Run a command, fail the test with its output if it exits non-zero."""
    full_env = dict(os.environ)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env['PYTHON'] = sys.executable
    if env:
        full_env.update(env)
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f'{" ".join(map(str, cmd))} exited {proc.returncode}:\n'
                    f'{out[-6000:]}')
    return out


def python_tool(script, *args):
    """``[python, tools/<script>, *args]``."""
    return [sys.executable, osp.join(REPO, 'tools', script), *map(str, args)]


@pytest.fixture(scope='session')
def mask_rcnn_run(shapes_root, tmp_path_factory):
    """One real 4-iteration training + evaluation of the tiny Mask R-CNN
    with ``tools/train.py``; returns ``(work_dir, output)``. Checkpoints at
    iterations 2 and 4."""
    work_dir = tmp_path_factory.mktemp('mask_rcnn_run')
    out = run_tool(
        python_tool('train.py', MASK_RCNN, '--work-dir', work_dir,
                    '--cfg-options', *short_run_options(shapes_root)))
    return work_dir, out
