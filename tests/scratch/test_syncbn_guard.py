# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests of the SyncBN guard (He et al. 2019, Sec. 3: SyncBN statistics come
from all GPUs' images): single-process SyncBN training is refused by
``SyncBNGuardHook`` (a plain detector or a self-training student, the rendered
SyncBN-all models as hand-set SyncBN), allowed with one warning, never for
evaluation; every SyncBN config of the package lists the hook;
``EmptySafeSyncBN`` survives empty inputs.

Real mmengine Runners train the tiny shapes RetinaNet on CPU. What needs a
GPU is not tested here: ``torch.nn.SyncBatchNorm`` refuses CPU tensors when
it synchronizes, so only the single-process path and ``EmptySafeSyncBN``'s
all-empty branch (which returns before torch's GPU-only code) run in the
two-process gloo test.
"""
import os
import subprocess
import sys
import warnings

import pytest
import torch
from mmcv.cnn import build_norm_layer
from mmengine.config import Config
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.runner import Runner
from torch import nn

from mmdet.utils import register_all_modules
from rethink_mmdet.scratch.empty_safe_syncbn import EmptySafeSyncBN
from rethink_mmdet.scratch.norm import convert_to_scratch
from rethink_mmdet.scratch.syncbn_guard_hook import (
    SingleProcessSyncBNError, SingleProcessSyncBNWarning, SyncBNGuardHook,
    check_sync_bn_world_size, find_sync_bn)
from tests.conftest import REPO, RETINANET

register_all_modules()


def tiny_cfg(shapes_root, work_dir, max_iters=1):
    """The shapes RetinaNet config (the plain GN-all model) for a short
    in-process CPU run."""
    cfg = Config.fromfile(RETINANET)
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    loader = cfg.train_dataloader
    loader.dataset.data_root = shapes_root.rstrip('/') + '/'
    loader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    for split in ('val', 'test'):
        for key in ('dataloader', 'cfg', 'evaluator'):
            cfg[f'{split}_{key}'] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    return cfg


def syncbn_everywhere(model_cfg):
    """The tiny model with SyncBN set by hand (not by our converter)."""
    sync = dict(type='SyncBN', requires_grad=True)
    for part in ('backbone', 'neck', 'bbox_head'):
        model_cfg[part]['norm_cfg'] = sync
    return model_cfg


def sync_bn_warnings(record):
    return [
        w for w in record if issubclass(w.category, SingleProcessSyncBNWarning)
    ]


def test_find_sync_bn_paths():
    cfg = Config.fromfile(RETINANET).model
    assert find_sync_bn(cfg) == []  # GN
    paths = find_sync_bn(convert_to_scratch(cfg, 'SyncBN'))
    assert paths == [
        'model.backbone.norm_cfg', 'model.neck.norm_cfg',
        'model.bbox_head.norm_cfg'
    ]
    rendered = Config.fromfile(
        os.path.join(REPO, 'configs', '_base_', 'models',
                     'mask-rcnn_r50_fpn_syncbn-all.py')).model
    assert find_sync_bn(rendered) == [
        'model.backbone.norm_cfg', 'model.neck.norm_cfg',
        'model.roi_head.bbox_head.norm_cfg',
        'model.roi_head.mask_head.norm_cfg'
    ]
    cascade = dict(
        roi_head=dict(bbox_head=[
            dict(norm_cfg=dict(type='mmdet.MMSyncBN')),
            dict(norm_cfg=dict(type=EmptySafeSyncBN))
        ]))
    assert find_sync_bn(cascade) == [
        'model.roi_head.bbox_head[0].norm_cfg',
        'model.roi_head.bbox_head[1].norm_cfg'
    ]
    student = dict(type='SelfTrainingDetector', detector=rendered)
    assert find_sync_bn(student)[0] == 'model.detector.backbone.norm_cfg'


def test_check_world_size_message_and_allowance():
    where = ['model.backbone.norm_cfg']
    with pytest.raises(SingleProcessSyncBNError) as err:
        check_sync_bn_world_size(where, 1)
    for part in ('model.backbone.norm_cfg', 'world_size=1', 'per-GPU',
                 'dist_train.sh', 'render_scratch_model.py --norm GN',
                 "custom_hooks=[dict(type='SyncBNGuardHook', "
                 'allow_single_process=True)]'):
        assert part in str(err.value)
    assert check_sync_bn_world_size(where, 8) is False
    assert check_sync_bn_world_size([], 1) is False
    with pytest.warns(SingleProcessSyncBNWarning):
        assert check_sync_bn_world_size(where, 1, True) is True


def test_hook_refuses_single_process_syncbn_in_runner(shapes_root, tmp_path):
    cfg = tiny_cfg(shapes_root, tmp_path)
    syncbn_everywhere(cfg.model)
    cfg.custom_hooks = [dict(type='SyncBNGuardHook')]
    runner = Runner.from_cfg(cfg)
    assert any(isinstance(h, SyncBNGuardHook) for h in runner.hooks)
    with pytest.raises(SingleProcessSyncBNError, match='model.backbone'):
        runner.train()
    assert runner.iter == 0


def test_hook_allowed_warns_once_and_trains(shapes_root, tmp_path):
    cfg = tiny_cfg(shapes_root, tmp_path, max_iters=2)
    syncbn_everywhere(cfg.model)
    cfg.custom_hooks = [
        dict(type='SyncBNGuardHook', allow_single_process=True)
    ]
    runner = Runner.from_cfg(cfg)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        runner.train()
    assert runner.iter == 2
    assert len(sync_bn_warnings(record)) == 1
    # Why the guard exists: mmengine reverted every SyncBN to plain BN.
    assert not any(
        isinstance(m, nn.SyncBatchNorm) for m in runner.model.modules())


def test_rendered_syncbn_model_refused_in_runner(shapes_root, tmp_path):
    """The SyncBN-all model as the renderer writes it (convert_to_scratch),
    through a real Runner with the hook: refused before the first
    iteration."""
    cfg = tiny_cfg(shapes_root, tmp_path)
    cfg.model = convert_to_scratch(cfg.model, 'SyncBN')
    cfg.custom_hooks = [dict(type='SyncBNGuardHook')]
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == 'RetinaNet'
    with pytest.raises(SingleProcessSyncBNError, match='model.backbone'):
        runner.train()
    assert runner.iter == 0


def test_scratch_syncbn_student_refuses_single_process_training(
        shapes_root, tmp_path):
    """A self-training student around the SyncBN-all model, trained by a
    real Runner with the hook, is refused too: the hook reads the student's
    ``model.detector`` in the config, whatever the student's forward
    calls."""
    cfg = tiny_cfg(shapes_root, tmp_path)
    cfg.model = dict(
        type='SelfTrainingDetector',
        detector=convert_to_scratch(cfg.model, 'SyncBN'))
    cfg.custom_hooks = [dict(type='SyncBNGuardHook')]
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == 'SelfTrainingDetector'
    assert runner.model.part_forward == 'shared_features'
    with pytest.raises(
            SingleProcessSyncBNError, match='model.detector.backbone'):
        runner.train()
    assert runner.iter == 0


def test_hook_never_refuses_evaluation(shapes_root, tmp_path):
    """Single-process testing of a SyncBN model is exact (running
    statistics): Runner.test with the hook is not refused."""
    cfg = tiny_cfg(shapes_root, tmp_path)
    full = Config.fromfile(RETINANET)
    root = shapes_root.rstrip('/') + '/'
    cfg.test_dataloader = full.test_dataloader
    cfg.test_dataloader.dataset.data_root = root
    cfg.test_dataloader.update(
        num_workers=0, persistent_workers=False, batch_size=2)
    cfg.test_cfg = full.test_cfg
    cfg.test_evaluator = full.test_evaluator
    cfg.test_evaluator.ann_file = root + 'annotations/instances_val.json'
    cfg.model = convert_to_scratch(cfg.model, 'SyncBN')
    cfg.custom_hooks = [dict(type='SyncBNGuardHook')]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        Runner.from_cfg(cfg).test()
    assert not sync_bn_warnings(record)


def _syncbn_configs():
    """Every config of the package whose model uses SyncBN (leaves and the
    rendered SyncBN bases' users; the model fragments themselves have no
    runtime)."""
    import glob
    for path in sorted(
            glob.glob(
                os.path.join(REPO, 'configs', '**', '*.py'), recursive=True)):
        rel = os.path.relpath(path, REPO)
        if '_base_' in rel.split(os.sep) or 'study' in os.path.basename(rel):
            continue
        yield rel


def test_every_syncbn_config_lists_the_hook():
    """Every trainable config of the package with SyncBN in its model lists
    SyncBNGuardHook in custom_hooks (He et al. and Zoph et al. runtimes,
    detection and segmentation)."""
    checked = 0
    for rel in _syncbn_configs():
        cfg = Config.fromfile(os.path.join(REPO, rel))
        if not find_sync_bn(cfg.get('model')):
            continue
        # a segmentation config (mmseg scope) names it mmdet.SyncBNGuardHook
        types = [
            h['type'].rsplit('.', 1)[-1] for h in cfg.get('custom_hooks', [])
        ]
        assert 'SyncBNGuardHook' in types, rel
        checked += 1
    assert checked >= 50  # the He et al. SyncBN arms and the Zoph grid


def test_empty_safe_sync_bn_single_process():
    name, bn = build_norm_layer(dict(type='EmptySafeSyncBN'), 4)
    assert name == 'bn' and isinstance(bn, EmptySafeSyncBN)
    assert isinstance(bn, nn.SyncBatchNorm)
    bn.train()
    x = torch.zeros(0, 4, 7, 7, requires_grad=True)
    y = bn(x)
    y.sum().backward()
    assert y.shape == (0, 4, 7, 7)
    assert torch.equal(bn.running_mean, torch.zeros(4))
    assert torch.equal(bn.running_var, torch.ones(4))
    assert torch.equal(bn.weight.grad, torch.zeros(4))
    reverted = revert_sync_batchnorm(nn.Sequential(bn))
    assert not isinstance(reverted[0], nn.SyncBatchNorm)


# One rank of a 2-process gloo group on CPU; every rank has 0 samples.
ALL_EMPTY_WORKER = """
import sys
import torch
import torch.distributed as torch_dist
from torch import nn
from rethink_mmdet.scratch.empty_safe_syncbn import EmptySafeSyncBN
rank, init_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch_dist.init_process_group(
    'gloo', init_method='file://' + init_file, rank=rank, world_size=2)
bn = EmptySafeSyncBN(4).train()
x = torch.zeros(0, 4, 7, 7, requires_grad=True)
y = bn(x)
y.sum().backward()
try:  # torch's own SyncBN would go on to its GPU-only code here
    nn.SyncBatchNorm(4).train()(x)
    torch_refuses = False
except ValueError:
    torch_refuses = True
torch.save(dict(shape=tuple(y.shape), mean=bn.running_mean,
                var=bn.running_var, grad=bn.weight.grad,
                torch_refuses=torch_refuses), out)
torch_dist.destroy_process_group()
"""


def test_empty_safe_sync_bn_all_ranks_empty_two_processes(tmp_path):
    """Two gloo processes, both with 0 samples: no statistics, no hang."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    procs = []
    for rank in range(2):
        cmd = [
            sys.executable, '-c', ALL_EMPTY_WORKER,
            str(rank),
            str(tmp_path / 'pg'),
            str(tmp_path / f'{rank}.pt')
        ]
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True))
    try:
        outputs = [p.communicate(timeout=180)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, output in zip(procs, outputs):
        assert p.returncode == 0, output[-3000:]
    for rank in range(2):
        out = torch.load(tmp_path / f'{rank}.pt')
        assert out['shape'] == (0, 4, 7, 7)
        assert torch.equal(out['mean'], torch.zeros(4))
        assert torch.equal(out['var'], torch.ones(4))
        assert torch.equal(out['grad'], torch.zeros(4))
        assert out['torch_refuses']
