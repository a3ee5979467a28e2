# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests of the rendered scratch models (He et al. 2019, Sec. 3-4): every
committed ``configs/_base_/models/*-all.py`` is the renderer's output, the
tool renders mmdet's own detectors (RetinaNet, FCOS, Faster/Mask/Cascade
R-CNN, ATSS, GFL, TOOD, R101) into configs that build the plain detector
with GN/SyncBN everywhere He et al. put it, nothing frozen and no
pre-trained init, and ``init_detector(config, ckpt)`` works on a scratch
config as on any mmdet config."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmdet.apis import init_detector
from mmdet.registry import MODELS
from rethink_mmdet.scratch.empty_safe_syncbn import EmptySafeSyncBN
from rethink_mmdet.scratch.render import (RENDERED, TOOL, render_scratch_model,
                                          rendered_text)
from .test_norm import (CASCADE, FASTER, FCOS, MASK, MMDET_CONFIGS, RETINA,
                        assert_scratch_norm, find_pretrained)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ATSS = 'atss/atss_r50_fpn_1x_coco.py'
GFL = 'gfl/gfl_r50_fpn_1x_coco.py'
TOOD = 'tood/tood_r50_fpn_1x_coco.py'
R101 = 'faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py'
SHAPES_RETINANET = osp.join(REPO, 'configs', 'shapes',
                            'retinanet_r18-scratch_fpn_gn-all_shapes.py')


def _flat(text):
    """The comment header of a rendered file as one line."""
    lines = [line for line in text.splitlines() if line.startswith('#')]
    return ' '.join(line.lstrip('# ').rstrip('\\ ') for line in lines)


@pytest.mark.parametrize('name', sorted(RENDERED))
def test_committed_file_is_the_renderers_output(name):
    """Each committed file is exactly what the tool writes, so it is
    re-rendered (``render_scratch_model.py --all``), never edited."""
    with open(osp.join(REPO, 'configs', name), encoding='utf-8') as f:
        assert f.read() == rendered_text(name, REPO)


def test_every_rendered_looking_file_is_listed():
    found = {
        osp.relpath(p, osp.join(REPO, 'configs'))
        for p in glob.glob(
            osp.join(REPO, 'configs', '_base_', 'models', '*_*-all.py'))
    }
    assert found == set(RENDERED)


@pytest.mark.parametrize('rel, norm', [(FASTER, 'GN'), (MASK, 'GN'),
                                       (RETINA, 'GN'), (FCOS, 'GN'),
                                       (CASCADE, 'GN'), (ATSS, 'GN'),
                                       (GFL, 'GN'), (TOOD, 'GN'), (R101, 'GN'),
                                       (MASK, 'SyncBN'), (RETINA, 'SyncBN')])
def test_rendered_mmdet_detectors(rel, norm, tmp_path):
    """Render mmdet's shipped config, read the file back, build it: the
    plain detector of the source type, norm everywhere expected, nothing
    frozen, no Pretrained init; the box heads keep their settings."""
    before = Config.fromfile(osp.join(MMDET_CONFIGS, rel)).model.to_dict()
    out = tmp_path / 'model.py'
    out.write_text(render_scratch_model(f'mmdet::{rel}', norm, out=str(out)))
    cfg = Config.fromfile(str(out))
    assert set(cfg) <= {'model', 'custom_imports'}
    assert find_pretrained(before) and not find_pretrained(cfg.model)
    assert cfg.model.type == before['type']  # no wrapper, no nesting
    assert 'detector' not in cfg.model
    assert cfg.model.data_preprocessor == before['data_preprocessor']
    assert cfg.model.get('train_cfg') == before.get('train_cfg')

    model = MODELS.build(cfg.model)
    assert type(model).__name__ == before['type']
    if norm == 'GN':
        assert_scratch_norm(model, nn.GroupNorm)
    else:
        assert_scratch_norm(model, nn.SyncBatchNorm, EmptySafeSyncBN)
    if rel == R101:
        assert model.backbone.depth == 101
    if 'roi_head' in before:  # the original box heads' settings survive
        old = before['roi_head']['bbox_head']
        old = old if isinstance(old, list) else [old]
        new = model.roi_head.bbox_head
        new = new if isinstance(new, nn.ModuleList) else [new]
        assert len(new) == len(old)
        for o, n in zip(old, new):
            assert n.num_classes == o['num_classes']
            assert n.fc_out_channels == o['fc_out_channels']
            assert n.conv_out_channels == o['in_channels']
            assert n.reg_class_agnostic == o.get('reg_class_agnostic', False)
            assert list(n.bbox_coder.stds) == o['bbox_coder']['target_stds']
            assert type(n.loss_bbox).__name__ == o['loss_bbox']['type']


def test_header_names_source_command_and_paper():
    text = rendered_text('_base_/models/mask-rcnn_r50_fpn_syncbn-all.py', REPO)
    header = text[:text.index('\ncustom_imports')]
    flat = ' '.join(
        line.lstrip('# ').rstrip('\\ ') for line in header.splitlines())
    assert 'mmdet::_base_/models/mask-rcnn_r50_fpn.py' in flat
    assert (f'python {TOOL} mmdet::_base_/models/mask-rcnn_r50_fpn.py '
            '--norm SyncBN --out '
            'configs/_base_/models/mask-rcnn_r50_fpn_syncbn-all.py') in flat
    assert 'He et al. 2019' in flat and 'Sec. 3' in flat
    assert 'SyncBNGuardHook' in flat
    # GN models need nothing of the package
    gn = rendered_text('_base_/models/faster-rcnn_r50_fpn_gn-all.py', REPO)
    assert 'custom_imports' not in gn


def test_cli_writes_prints_and_checks(tmp_path):
    out = tmp_path / 'retinanet_gn-all.py'
    cmd = [sys.executable, osp.join(REPO, TOOL)]
    subprocess.run(
        cmd + [
            'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '--num-groups',
            '16', '--out',
            str(out)
        ],
        check=True,
        cwd=str(tmp_path))
    printed = subprocess.run(
        cmd + [
            'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '--num-groups',
            '16'
        ],
        check=True,
        capture_output=True,
        text=True).stdout
    text = out.read_text()
    assert text.split('model = ')[1] == printed.split('model = ')[1]
    assert f'--num-groups 16 --out {out}' in _flat(text)
    model = MODELS.build(Config.fromfile(str(out)).model)
    assert {
        m.num_groups
        for m in model.modules() if isinstance(m, nn.GroupNorm)
    } == {16}
    bad = subprocess.run(
        cmd + [
            'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '--norm', 'GN',
            '--num-groups', '7'
        ],
        capture_output=True,
        text=True)
    assert bad.returncode == 2 and 'num_groups=32' not in bad.stderr
    assert 'not divisible by num_groups=7' in bad.stderr
    check = subprocess.run(cmd + ['--check'], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_init_detector_on_a_scratch_config(tmp_path):
    """mmdet's init_detector(config, ckpt) on a scratch config, without
    cfg_options: the plain detector with the checkpoint's weights."""
    cfg = Config.fromfile(SHAPES_RETINANET)
    assert cfg.model.type == 'RetinaNet'
    torch.manual_seed(0)
    trained = MODELS.build(cfg.model)
    ckpt = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=trained.state_dict(), meta={}), str(ckpt))
    model = init_detector(SHAPES_RETINANET, str(ckpt), device='cpu')
    assert type(model).__name__ == 'RetinaNet'
    loaded = model.state_dict()
    assert loaded.keys() == trained.state_dict().keys()
    assert all(
        torch.equal(v, loaded[k]) for k, v in trained.state_dict().items())
    assert isinstance(model.backbone.norm1, nn.GroupNorm)
