# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests of scratch norm conversion (He et al. 2019, Sec. 3-4) on mmdet's own
configs: GN/SyncBN in backbone, FPN, 4conv1fc box head and mask head, no norm
in the RPN head, nothing frozen, no pre-trained weights. Models are built
with mmdet's registry and checked module by module; the rendered configs
(every mmdet detector through ``tools/misc/render_scratch_model.py``) are
tested in test_render.py, with :func:`assert_scratch_norm` of this file."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmdet
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules
from rethink_mmdet.scratch.empty_safe_syncbn import EmptySafeSyncBN
from rethink_mmdet.scratch.norm import convert_to_scratch
from rethink_mmdet.scratch.norm_cfg import scratch_optim_paramwise_cfg

register_all_modules()

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
FASTER = 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
MASK = 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
RETINA = 'retinanet/retinanet_r50_fpn_1x_coco.py'
FCOS = 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
CASCADE = 'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'
NORM_TYPES = (_BatchNorm, nn.GroupNorm)


def mmdet_cfg(rel):
    return Config.fromfile(osp.join(MMDET_CONFIGS, rel))


def norms(module):
    """Every norm layer under ``module``."""
    return [m for m in module.modules() if isinstance(m, NORM_TYPES)]


def find_pretrained(cfg, path='model'):
    """Paths of every init_cfg of type Pretrained in a config."""
    found = []
    if isinstance(cfg, dict):
        init_cfg = cfg.get('init_cfg')
        for c in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
            if isinstance(c, dict) and c.get('type') == 'Pretrained':
                found.append(path)
        for k, v in cfg.items():
            found += find_pretrained(v, f'{path}.{k}')
    elif isinstance(cfg, (list, tuple)):
        for i, v in enumerate(cfg):
            found += find_pretrained(v, f'{path}[{i}]')
    return found


def assert_scratch_norm(model, norm_cls, roi_norm_cls=None, groups=32):
    """He et al. 2019 placement of ``norm_cls`` in a built detector."""
    roi_norm_cls = roi_norm_cls or norm_cls
    every = norms(model)
    assert every and all(isinstance(m, norm_cls)
                         for m in every), {type(m).__name__
                                           for m in every}
    if norm_cls is nn.GroupNorm:
        assert {m.num_groups for m in every} == {groups}
    parts = [model.backbone, model.neck]
    parts += [model.bbox_head] if hasattr(model, 'bbox_head') else []
    for part in parts:
        assert norms(part), type(part).__name__
    assert not norms(getattr(model, 'rpn_head', nn.Identity()))
    backbone = model.backbone
    assert backbone.frozen_stages == -1 and backbone.norm_eval is False
    assert backbone.zero_init_residual is False
    assert all(p.requires_grad for p in model.parameters())
    if hasattr(model, 'roi_head'):
        heads = model.roi_head.bbox_head
        for head in heads if isinstance(heads, nn.ModuleList) else [heads]:
            assert type(head).__name__ == 'Shared4Conv1FCBBoxHead'
            assert len(head.shared_convs) == 4 and len(head.shared_fcs) == 1
            for conv in head.shared_convs:
                assert conv.with_norm and isinstance(conv.norm, roi_norm_cls)
        if model.roi_head.with_mask:
            heads = model.roi_head.mask_head
            for head in heads if isinstance(heads, nn.ModuleList) else [heads]:
                assert all(
                    isinstance(c.norm, roi_norm_cls) for c in head.convs)


def test_init_is_he_scratch_init():
    """init_weights loads nothing (torchvision is absent: a Pretrained
    init_cfg would fail) and norm weights are 1, biases 0 -- in every GN
    layer He et al. place: ResNet-50 (1 stem + 16 blocks x 3 + 4 downsample
    = 53), FPN (4 lateral + 4 output convs) and the 4conv1fc box head (4),
    none in the RPN head. The backbone's are set by init_weights (ResNet's
    Constant init); the neck's and head's are built at 1/0 and init_weights
    leaves them (their ConvModules sit in ModuleLists, which mmengine's
    init_weights does not descend into)."""
    model = MODELS.build(convert_to_scratch(mmdet_cfg(FASTER).model))
    counts = {
        part: sum(isinstance(m, nn.GroupNorm) for m in norms(module))
        for part, module in (('backbone', model.backbone),
                             ('neck', model.neck), ('bbox_head',
                                                    model.roi_head.bbox_head),
                             ('rpn_head', model.rpn_head))
    }
    assert counts == dict(backbone=53, neck=8, bbox_head=4, rpn_head=0)
    assert len(norms(model)) == 65
    # Start the backbone's away from 1/0: only init_weights brings them back.
    with torch.no_grad():
        for m in norms(model.backbone):
            m.weight.uniform_(2, 3)
            m.bias.uniform_(2, 3)
    model.init_weights()
    for m in norms(model):
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_syncbn_all_and_roi_heads_empty_safe():
    scratch = convert_to_scratch(mmdet_cfg(MASK).model, 'SyncBN')
    assert scratch['backbone']['norm_cfg'] == dict(
        type='SyncBN', requires_grad=True)
    model = MODELS.build(scratch)
    assert_scratch_norm(model, nn.SyncBatchNorm, EmptySafeSyncBN)
    assert not any(
        isinstance(m, EmptySafeSyncBN)
        for m in norms(model.backbone) + norms(model.neck))
    # What mmengine's Runner does when not distributed: plain BN remains.
    reverted = revert_sync_batchnorm(model)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in norms(reverted))


def _empty_roi_loss(model):
    """roi_head.loss on an image with no proposals and no gt boxes."""
    x = tuple(
        torch.randn(1, 256, s, s, requires_grad=True) for s in (8, 4, 2, 1, 1))
    proposals = InstanceData(
        bboxes=torch.zeros(0, 4),
        scores=torch.zeros(0),
        labels=torch.zeros(0, dtype=torch.long))
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(32, 32),
            ori_shape=(32, 32),
            pad_shape=(32, 32),
            batch_input_shape=(32, 32),
            scale_factor=(1., 1.)))
    sample.gt_instances = InstanceData(
        bboxes=torch.zeros(0, 4),
        labels=torch.zeros(0, dtype=torch.long),
        masks=BitmapMasks(np.zeros((0, 32, 32), np.uint8), 32, 32))
    sample.ignored_instances = InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    return model.roi_head.loss(x, [proposals], [sample])


@pytest.mark.parametrize('norm', ['GN', 'SyncBN'])
def test_empty_roi_batch_through_converted_heads(norm):
    """0 RoIs through the normalized box and mask heads in train mode."""
    model = MODELS.build(convert_to_scratch(mmdet_cfg(MASK).model, norm))
    model.train()
    seen = []
    head_norms = [
        model.roi_head.bbox_head.shared_convs[0].norm,
        model.roi_head.mask_head.convs[0].norm
    ]
    for m in head_norms:
        m.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    stats = [copy.deepcopy(m.state_dict()) for m in head_norms]

    losses = _empty_roi_loss(model)
    assert seen == [0, 0], 'the heads did not see the empty RoI batch'
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    for m, before in zip(head_norms, stats):
        assert torch.equal(m.weight.grad, torch.zeros_like(m.weight))
        for key, value in m.state_dict().items():
            if key != 'num_batches_tracked':  # running stats untouched
                assert torch.equal(value, before[key]), key


def test_removed_builder_names_the_tool():
    """A config written for the removed ``ScratchNormDetector`` builder is
    refused with the tool that renders the explicit model."""
    with pytest.raises(TypeError, match='render_scratch_model.py'):
        MODELS.build(
            dict(
                type='ScratchNormDetector',
                norm='GN',
                detector=mmdet_cfg(FASTER).model))


@pytest.mark.parametrize(
    'rel, key, value, message',
    [(FASTER, 'neck.out_channels', 100,
      'neck.out_channels=100 is not divisible by num_groups=32'),
     (MASK, 'backbone.base_channels', 24,
      r'backbone \(ResNet, depth=50\) stem width=24 is not divisible'),
     (FASTER, 'roi_head.bbox_head.in_channels', 200,
      r'roi_head.bbox_head.in_channels \(= conv_out_channels\)=200'),
     (MASK, 'roi_head.mask_head.conv_out_channels', 48,
      'roi_head.mask_head.conv_out_channels=48'),
     (RETINA, 'bbox_head.feat_channels', 72, 'bbox_head.feat_channels=72')])
def test_widths_not_divisible_by_groups(rel, key, value, message):
    model = mmdet_cfg(rel).model
    node = model
    *parents, leaf = key.split('.')
    for p in parents:
        node = node[p]
    node[leaf] = value
    with pytest.raises(ValueError, match=message) as err:
        convert_to_scratch(model, 'GN', 32)
    assert 'num_groups=' in str(err.value) and ' or ' in str(err.value)
    convert_to_scratch(model, 'SyncBN')  # SyncBN has no width constraint


def test_resnext_group_width_and_small_groups():
    model = mmdet_cfg('mask_rcnn/mask-rcnn_x101-32x4d_fpn_1x_coco.py').model
    scratch = convert_to_scratch(model, 'GN', 32)  # widths 128..1024: fine
    assert scratch['backbone']['type'] == 'ResNeXt'
    model.backbone.base_width = 3  # res2 grouped width 3*32 = 96
    with pytest.raises(ValueError, match=r'res2 width=96'):
        convert_to_scratch(model, 'GN', 64)
    # The tiny shapes width (base 16, FPN 32) needs num_groups=8.
    model = mmdet_cfg(RETINA).model
    model.backbone.update(depth=18, base_channels=16)
    model.neck.update(in_channels=[16, 32, 64, 128], out_channels=32)
    model.bbox_head.update(in_channels=32, feat_channels=32)
    with pytest.raises(ValueError, match='stem width=16'):
        convert_to_scratch(model, 'GN', 32)
    assert_scratch_norm(
        MODELS.build(convert_to_scratch(model, 'GN', 8)),
        nn.GroupNorm,
        groups=8)


def test_refuses_what_it_cannot_convert():
    with pytest.raises(ValueError, match="norm='BN'"):
        convert_to_scratch(mmdet_cfg(FASTER).model, 'BN')
    model = mmdet_cfg(FASTER).model
    model.roi_head.bbox_head.type = 'DoubleConvFCBBoxHead'
    with pytest.raises(ValueError, match='DoubleConvFCBBoxHead'):
        convert_to_scratch(model)
    model = mmdet_cfg(FASTER).model
    model.backbone.type = 'NoSuchBackbone'
    with pytest.raises(ValueError, match='custom_imports'):
        convert_to_scratch(model)


def test_no_weight_decay_on_norm_parameters():
    paramwise = scratch_optim_paramwise_cfg(dict(bias_decay_mult=0.5))
    assert paramwise == dict(bias_decay_mult=0.5, norm_decay_mult=0.)
    model = MODELS.build(convert_to_scratch(mmdet_cfg(RETINA).model))
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='SGD', lr=0.02, weight_decay=1e-4),
            paramwise_cfg=scratch_optim_paramwise_cfg()))
    norm_params = {id(p) for m in norms(model) for p in m.parameters()}
    decays = {
        id(p): g['weight_decay']
        for g in wrapper.optimizer.param_groups
        for p in g['params']
    }
    assert norm_params and all(decays[i] == 0 for i in norm_params)
    assert any(d == 1e-4 for i, d in decays.items() if i not in norm_params)


EFFNET_RETINA = 'efficientnet/retinanet_effb3_fpn_8xb4-crop896-1x_coco.py'
SELFTRAIN_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'rethinking-self-training')
SELFTRAIN_EFFB7_SCRATCH = osp.join(
    SELFTRAIN_DIR,
    'retinanet_effb7-scratch_fpn_syncbn-all_32xb8-aug-s4-45k_coco-20p.py')
SELFTRAIN_EFFB7_SCRATCH_STUDENT = osp.join(
    SELFTRAIN_DIR,
    'retinanet_effb7-scratch_fpn_syncbn-all_st-in1k-a3.0_32xb16-aug-s4-90k_'
    'coco-20p.py')


def test_efficientnet_nothing_frozen_is_zero():
    """mmdet's EfficientNet freezes ``range(frozen_stages)`` stages and
    rejects -1: the conversion sets 0 and the guard reads 0 as nothing
    frozen, 1 and more as frozen stages; ResNet's 0 is still frozen."""
    from rethink_mmdet.scratch.guard import (find_scratch_problems,
                                             unfrozen_stages)
    cfg = mmdet_cfg(EFFNET_RETINA).model
    cfg.backbone.arch = 'b0'  # small; same class
    cfg.neck.in_channels = [40, 112, 320]
    cfg.backbone.frozen_stages = 2
    out = convert_to_scratch(cfg, norm='SyncBN')
    assert out.backbone.frozen_stages == 0
    assert out.backbone.init_cfg is None or all(c['type'] != 'Pretrained'
                                                for c in out.backbone.init_cfg)
    model = MODELS.build(out)
    assert unfrozen_stages(model.backbone) == 0
    assert unfrozen_stages(MODELS.get('ResNet')) == -1
    assert find_scratch_problems(model) == []
    frozen = copy.deepcopy(out)
    frozen.backbone.frozen_stages = 2
    problems = find_scratch_problems(MODELS.build(frozen))
    text = [str(p) for p in problems]
    assert len(problems) == 1, text
    assert 'frozen_stages=2' in text[0] and 'layers.0-1' in text[0]
    assert 'Set model.backbone.frozen_stages=0.' in text[0]
    resnet = convert_to_scratch(mmdet_cfg(RETINA).model)
    assert resnet.backbone.frozen_stages == -1
    resnet.backbone.frozen_stages = 0
    problems = find_scratch_problems(MODELS.build(resnet))
    assert any('frozen_stages=0' in str(p) for p in problems)


def test_selftrain_efficientnet_scratch_config_passes_the_guard():
    """The EfficientNet-B7 random-init arm of configs/rethinking-self-
    training builds and passes the scratch guard (before the fix it read
    EfficientNet's frozen_stages=0 as a frozen stem)."""
    from rethink_mmdet.scratch.guard import find_scratch_problems
    cfg = Config.fromfile(SELFTRAIN_EFFB7_SCRATCH)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'EfficientNet'
    assert model.backbone.frozen_stages == 0
    assert find_scratch_problems(
        model,
        model_cfg=cfg.model,
        load_from=cfg.get('load_from'),
        resume=cfg.get('resume', False)) == []


def test_selftrain_efficientnet_scratch_runtime_runs_the_guard():
    """Its runtime (_base_/effb7-scratch_runtime.py) runs ScratchGuardHook
    and ScratchInitHook, for a student as for its teacher (both hooks find
    the student's inner detector)."""
    cfg = Config.fromfile(SELFTRAIN_EFFB7_SCRATCH_STUDENT)
    assert cfg.model.type == 'SelfTrainingDetector'
    types = [h['type'] for h in cfg.custom_hooks]
    assert {'ScratchGuardHook', 'ScratchInitHook'} <= set(types), types
    assert 'student_custom_hooks' not in cfg
