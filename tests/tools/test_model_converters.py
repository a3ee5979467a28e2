# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests of ``tools/model_converters/``: the TF EfficientNet (Noisy Student
/ AutoAugment B7) and the SimCLR ResNet-50 converters.

Each test builds a checkpoint of the *published* layout here, from the
architecture's own rules (tensorflow/tpu ``efficientnet_builder.py`` /
``efficientnet_model.py`` naming and scaling; google-research/simclr
``resnet.py`` build order), with random values, converts it and loads the
result into the real mmdet backbone with ``strict=True``.
"""
import importlib.util
import math
import os.path as osp

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTERS = osp.join(REPO, 'tools', 'model_converters')


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(CONVERTERS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


effnet_tool = _load_tool('efficientnet_tf_to_mmdet')
simclr_tool = _load_tool('simclr_to_mmdet')

# --------------------------------------------------------------------------
# TF EfficientNet layout (tensorflow/tpu models/official/efficientnet)
# --------------------------------------------------------------------------
# efficientnet_builder.py: the B0 block strings, (repeats, kernel, stride,
# expand ratio, input filters, output filters), se_ratio 0.25 everywhere;
# (width, depth) coefficients per model.
B0_BLOCKS = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
             (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112),
             (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
COEFFICIENTS = {'b0': (1.0, 1.0), 'b7': (2.0, 3.1)}


def _round_filters(filters, width):
    filters *= width
    new = max(8, int(filters + 4) // 8 * 8)
    return new + 8 if new < 0.9 * filters else new


def tf_efficientnet_shapes(arch):
    """``{TF variable name: shape}`` of ``efficientnet-<arch>``, in the
    published naming (tf.layers names numbered per block in build order)."""
    width, depth = COEFFICIENTS[arch]
    scope = f'efficientnet-{arch}/'
    shapes = {}

    def bn(prefix, channels):
        for var in ('gamma', 'beta', 'moving_mean', 'moving_variance'):
            shapes[f'{scope}{prefix}/{var}'] = (channels, )

    stem = _round_filters(32, width)
    shapes[scope + 'stem/conv2d/kernel'] = (3, 3, 3, stem)
    bn('stem/tpu_batch_normalization', stem)
    index = 0
    for repeats, kernel, stride, expand, cin, cout in B0_BLOCKS:
        cin, cout = _round_filters(cin, width), _round_filters(cout, width)
        for _ in range(int(math.ceil(depth * repeats))):
            block = f'blocks_{index}/'
            mid = cin * expand
            convs = bns = 0
            if expand != 1:
                shapes[f'{scope}{block}conv2d/kernel'] = (1, 1, cin, mid)
                bn(f'{block}tpu_batch_normalization', mid)
                convs = bns = 1
            shapes[f'{scope}{block}depthwise_conv2d/depthwise_kernel'] = (
                kernel, kernel, mid, 1)
            bn(f'{block}tpu_batch_normalization' + (f'_{bns}' if bns else ''),
               mid)
            bns += 1
            reduced = max(1, int(cin * 0.25))
            shapes[f'{scope}{block}se/conv2d/kernel'] = (1, 1, mid, reduced)
            shapes[f'{scope}{block}se/conv2d/bias'] = (reduced, )
            shapes[f'{scope}{block}se/conv2d_1/kernel'] = (1, 1, reduced, mid)
            shapes[f'{scope}{block}se/conv2d_1/bias'] = (mid, )
            conv = 'conv2d' + (f'_{convs}' if convs else '')
            shapes[f'{scope}{block}{conv}/kernel'] = (1, 1, mid, cout)
            bn(f'{block}tpu_batch_normalization_{bns}', cout)
            cin = cout
            index += 1
    head = _round_filters(1280, width)
    shapes[scope + 'head/conv2d/kernel'] = (1, 1, cin, head)
    bn('head/tpu_batch_normalization', head)
    shapes[scope + 'head/dense/kernel'] = (head, 1000)
    shapes[scope + 'head/dense/bias'] = (1000, )
    return shapes


def tf_efficientnet_checkpoint(arch, ema=True, seed=0):
    """A checkpoint as released: raw variables, their EMA shadows, a few
    RMSProp slots and ``global_step``."""
    rng = np.random.default_rng(seed)
    ckpt = {'global_step': np.array(1000, dtype=np.int64)}
    for name, shape in tf_efficientnet_shapes(arch).items():
        ckpt[name] = rng.standard_normal(shape, dtype=np.float32)
        if ema:
            ckpt[name + '/ExponentialMovingAverage'] = rng.standard_normal(
                shape, dtype=np.float32)
    scope = f'efficientnet-{arch}/'
    for slot in ('RMSProp', 'RMSProp_1'):
        ckpt[f'{scope}stem/conv2d/kernel/{slot}'] = np.zeros((3, 3, 3, 1),
                                                             np.float32)
    return ckpt


def _build_effnet(arch, **kwargs):
    from mmdet.models.backbones import EfficientNet
    return EfficientNet(arch=arch, **kwargs)


@pytest.fixture(scope='module')
def b7_checkpoint():
    return tf_efficientnet_checkpoint('b7')


@pytest.fixture(scope='module')
def b7_model():
    return _build_effnet('b7')


@pytest.fixture(scope='module')
def b7_converted(b7_checkpoint):
    return effnet_tool.convert_efficientnet(b7_checkpoint, prefix='')


def test_efficientnet_b7_layout_loads_strict(b7_checkpoint, b7_model,
                                             b7_converted):
    state_dict, info = b7_converted
    assert info['arch'] == 'b7'
    assert info['dropped'] == [
        'efficientnet-b7/head/dense/bias', 'efficientnet-b7/head/dense/kernel'
    ]
    b7_model.load_state_dict(state_dict, strict=True)
    params = dict(b7_model.state_dict())

    def ema(name):
        return torch.from_numpy(
            b7_checkpoint[f'efficientnet-b7/{name}/ExponentialMovingAverage'])

    # stem conv HWIO -> OIHW, BN stats from the EMA shadows
    assert torch.equal(params['layers.0.conv.weight'],
                       ema('stem/conv2d/kernel').permute(3, 2, 0, 1))
    assert torch.equal(params['layers.0.bn.running_mean'],
                       ema('stem/tpu_batch_normalization/moving_mean'))
    # blocks_0 (expand ratio 1): conv2d is the project conv, BN 0 the
    # depthwise BN; depthwise (3, 3, 64, 1) -> (64, 1, 3, 3)
    assert torch.equal(params['layers.1.0.linear_conv.conv.weight'],
                       ema('blocks_0/conv2d/kernel').permute(3, 2, 0, 1))
    assert torch.equal(params['layers.1.0.depthwise_conv.bn.weight'],
                       ema('blocks_0/tpu_batch_normalization/gamma'))
    dw = ema('blocks_0/depthwise_conv2d/depthwise_kernel')
    assert torch.equal(params['layers.1.0.depthwise_conv.conv.weight'],
                       dw.permute(2, 3, 0, 1))
    # blocks_4 is the first block of stage 2 (4 blocks of stage 1 in B7):
    # expand, SE and project, BN 2 = project BN
    assert torch.equal(params['layers.2.0.expand_conv.conv.weight'],
                       ema('blocks_4/conv2d/kernel').permute(3, 2, 0, 1))
    assert torch.equal(params['layers.2.0.se.conv1.conv.bias'],
                       ema('blocks_4/se/conv2d/bias'))
    assert torch.equal(params['layers.2.0.se.conv2.conv.weight'],
                       ema('blocks_4/se/conv2d_1/kernel').permute(3, 2, 0, 1))
    assert torch.equal(
        params['layers.2.0.linear_conv.bn.running_var'],
        ema('blocks_4/tpu_batch_normalization_2/moving_variance'))
    # the last block (blocks_54) is the last block of layers.5; head conv
    assert torch.equal(params['layers.5.16.linear_conv.conv.weight'],
                       ema('blocks_54/conv2d_1/kernel').permute(3, 2, 0, 1))
    assert torch.equal(params['layers.6.bn.bias'],
                       ema('head/tpu_batch_normalization/beta'))
    assert info['ema'] == len(tf_efficientnet_shapes('b7'))
    assert info['raw'] == 0


def test_efficientnet_raw_variables_without_ema(b7_checkpoint, b7_converted):
    raw, info = effnet_tool.convert_efficientnet(
        b7_checkpoint, prefer_ema=False, prefix='')
    assert info['ema'] == 0
    stem = torch.from_numpy(
        b7_checkpoint['efficientnet-b7/stem/conv2d/kernel'])
    assert torch.equal(raw['layers.0.conv.weight'], stem.permute(3, 2, 0, 1))
    assert not torch.equal(raw['layers.0.conv.weight'],
                           b7_converted[0]['layers.0.conv.weight'])
    assert raw.keys() == b7_converted[0].keys()


def test_efficientnet_only_ema_shadows():
    """Checkpoints holding only the shadows convert either way."""
    ckpt = {
        name: value
        for name, value in tf_efficientnet_checkpoint('b0').items()
        if name.endswith('/ExponentialMovingAverage')
    }
    state_dict, info = effnet_tool.convert_efficientnet(
        ckpt, prefer_ema=False, prefix='')
    assert info['raw'] == 0 and info['ema'] > 0
    _build_effnet('b0').load_state_dict(state_dict, strict=True)


def test_efficientnet_cli_out_indices_and_pretrained_init(tmp_path):
    """The CLI on a ``.npz``; the detector config's ``out_indices=(3, 4,
    5)`` backbone lacks the head conv, and ``Pretrained`` with
    ``prefix='backbone.'`` loads the file."""
    from mmengine.runner.checkpoint import _load_checkpoint_with_prefix
    ckpt = tf_efficientnet_checkpoint('b0', seed=1)
    src, dst = tmp_path / 'ns-b0.npz', tmp_path / 'out' / 'b0.pth'
    np.savez(src, **ckpt)
    effnet_tool.main([str(src), str(dst), '--out-indices', '3', '4', '5'])
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta']['arch'] == 'b0'
    assert all(k.startswith('backbone.') for k in saved['state_dict'])
    assert not any(
        k.startswith('backbone.layers.6.') for k in saved['state_dict'])
    model = _build_effnet(
        'b0',
        out_indices=(3, 4, 5),
        init_cfg=dict(
            type='Pretrained', prefix='backbone.', checkpoint=str(dst)))
    model.load_state_dict(
        _load_checkpoint_with_prefix('backbone.', str(dst)), strict=True)
    model.init_weights()  # the config path: PretrainedInit
    expected = torch.from_numpy(
        ckpt['efficientnet-b0/blocks_15/conv2d_1/kernel/'
             'ExponentialMovingAverage']).permute(3, 2, 0, 1)
    assert torch.equal(model.layers[5][-1].linear_conv.conv.weight.data,
                       expected)


def test_efficientnet_bad_inputs():
    ckpt = tf_efficientnet_checkpoint('b0', ema=False)
    with pytest.raises(
            ValueError, match='efficientnet-b0 variables but '
            "arch='b7'"):
        effnet_tool.convert_efficientnet(ckpt, arch='b7')
    # a checkpoint claiming to be b1 (more blocks in mmdet's b1)
    renamed = {
        name.replace('efficientnet-b0', 'efficientnet-b1'): value
        for name, value in ckpt.items()
    }
    with pytest.raises(ValueError, match='not the same architecture'):
        effnet_tool.convert_efficientnet(renamed)
    missing = dict(ckpt)
    del missing['efficientnet-b0/blocks_3/se/conv2d/bias']
    with pytest.raises(ValueError, match=r'layers\.3\.0\.se\.conv1\.conv'):
        effnet_tool.convert_efficientnet(missing)
    extra = dict(ckpt)
    extra['efficientnet-b0/blocks_3/extra/kernel'] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match='have no place'):
        effnet_tool.convert_efficientnet(extra)
    with pytest.raises(ValueError, match='not a TF EfficientNet'):
        effnet_tool.convert_efficientnet(
            {'resnet50/conv2d/kernel': np.zeros((1, 1, 1, 1))})


# --------------------------------------------------------------------------
# SimCLR ResNet-50 (google-research/simclr resnet.py; tonylins port)
# --------------------------------------------------------------------------
def tf_simclr_shapes(width=1, stages=(3, 4, 6, 3), sk_extra=False):
    """``[(TF name, shape)]`` of SimCLR's ``base_model`` in build order:
    stem, then per bottleneck block projection (first block), 1x1, 3x3,
    1x1; every conv followed by its BN."""
    convs, bns = [], []
    stem = 64 * width
    convs.append((7, 7, 3, stem))
    bns.append(stem)
    cin = stem
    for stage, num_blocks in enumerate(stages):
        filters = 64 * width * 2**stage
        for block in range(num_blocks):
            if block == 0:
                convs.append((1, 1, cin, 4 * filters))
                bns.append(4 * filters)
            convs += [(1, 1, cin, filters), (3, 3, filters, filters),
                      (1, 1, filters, 4 * filters)]
            bns += [filters, filters, 4 * filters]
            if sk_extra:  # a selective-kernel mixing conv, as in sk1
                convs.append((1, 1, filters, 2 * filters))
            cin = 4 * filters
    names = []
    for i, shape in enumerate(convs):
        suffix = f'_{i}' if i else ''
        names.append((f'base_model/conv2d{suffix}/kernel', shape))
    for i, channels in enumerate(bns):
        suffix = f'_{i}' if i else ''
        for var in ('gamma', 'beta', 'moving_mean', 'moving_variance'):
            names.append((f'base_model/batch_normalization{suffix}/{var}',
                          (channels, )))
    return names


def tf_simclr_checkpoint(seed=0, zeros=False, **kwargs):
    """The ``ResNet50_1x`` checkpoint: encoder, LARS ``Momentum`` slots,
    projection head, linear-eval head, ``global_step`` (random encoder
    values, or zeros where only the layout matters)."""
    rng = np.random.default_rng(seed)
    ckpt = {'global_step': np.array(225206, dtype=np.int64)}
    for name, shape in tf_simclr_shapes(**kwargs):
        ckpt[name] = np.zeros(shape, np.float32) if zeros else \
            rng.standard_normal(shape, dtype=np.float32)
        ckpt[name + '/Momentum'] = np.zeros(shape, np.float32)
    ckpt['head_contrastive/nl_0/dense/kernel'] = np.zeros((2048, 2048),
                                                          np.float32)
    ckpt['head_contrastive/nl_0/batch_normalization/gamma'] = np.ones(
        2048, np.float32)
    ckpt['head_supervised/linear_layer/dense/kernel'] = np.zeros((2048, 1000),
                                                                 np.float32)
    ckpt['head_supervised/linear_layer/dense/bias'] = np.zeros(
        1000, np.float32)
    return ckpt


@pytest.fixture(scope='module')
def r50_model():
    from mmdet.models.backbones import ResNet
    return ResNet(depth=50)


def test_simclr_tf_layout_loads_strict(r50_model):
    ckpt = tf_simclr_checkpoint()
    state_dict, info = simclr_tool.convert_simclr(ckpt, prefix='')
    assert info['layout'] == 'tf'
    assert info['dropped'] == sorted(n for n in ckpt if n.startswith('head'))
    r50_model.load_state_dict(state_dict, strict=True)
    params = dict(r50_model.state_dict())

    def kernel(index):
        name = f'base_model/conv2d_{index}/kernel' if index else \
            'base_model/conv2d/kernel'
        return torch.from_numpy(ckpt[name]).permute(3, 2, 0, 1)

    def bn(index, var):
        suffix = f'_{index}' if index else ''
        return torch.from_numpy(
            ckpt[f'base_model/batch_normalization{suffix}/{var}'])

    assert torch.equal(params['conv1.weight'], kernel(0))
    assert torch.equal(params['bn1.running_mean'], bn(0, 'moving_mean'))
    # the projection shortcut is built before the block's own convs
    assert torch.equal(params['layer1.0.downsample.0.weight'], kernel(1))
    assert torch.equal(params['layer1.0.downsample.1.weight'], bn(1, 'gamma'))
    assert torch.equal(params['layer1.0.conv1.weight'], kernel(2))
    assert torch.equal(params['layer1.0.conv2.weight'], kernel(3))
    assert torch.equal(params['layer1.1.conv1.weight'], kernel(5))
    # stage 2: 1 + 10 (stage 1) convs before it; projection, then conv1..3
    assert torch.equal(params['layer2.0.downsample.0.weight'], kernel(11))
    assert torch.equal(params['layer2.0.conv2.weight'], kernel(13))
    assert torch.equal(params['layer4.2.conv3.weight'], kernel(52))
    assert torch.equal(params['layer4.2.bn3.running_var'],
                       bn(52, 'moving_variance'))


def test_simclr_v2_ema_copy():
    """SimCLRv2 TF1 checkpoints also hold ``ema_model/base_model/...``:
    dropped by default, converted with ``use_ema``."""
    ckpt = tf_simclr_checkpoint()
    for name in [n for n in ckpt if n.startswith('base_model/')]:
        if not name.endswith('/Momentum'):
            ckpt['ema_model/' + name] = ckpt[name] + 1
    ckpt['ema_model/head_contrastive/nl_0/dense/kernel'] = np.zeros(
        (2048, 2048), np.float32)
    stem = torch.from_numpy(ckpt['base_model/conv2d/kernel'])
    trained, info = simclr_tool.convert_simclr(ckpt, prefix='')
    assert torch.equal(trained['conv1.weight'], stem.permute(3, 2, 0, 1))
    assert 'ema_model/base_model/conv2d/kernel' in info['dropped']
    ema, info = simclr_tool.convert_simclr(ckpt, prefix='', use_ema=True)
    assert torch.equal(ema['conv1.weight'], stem.permute(3, 2, 0, 1) + 1)
    assert 'base_model/conv2d/kernel' in info['dropped']
    with pytest.raises(ValueError, match='no ema_model'):
        simclr_tool.convert_simclr(
            tf_simclr_checkpoint(zeros=True), use_ema=True)


def test_simclr_torchvision_port_cli(tmp_path, r50_model):
    """tonylins/simclr-converter's ``resnet50-1x.pth`` ({'state_dict'},
    torchvision keys, ``fc``) through the CLI, loaded by ``Pretrained``."""
    from mmengine.runner.checkpoint import _load_checkpoint_with_prefix
    gen = torch.Generator().manual_seed(0)
    port = {
        f'module.{k}':
        torch.randn(v.shape, generator=gen)
        if v.is_floating_point() else v.clone()
        for k, v in r50_model.state_dict().items()
    }
    port['module.fc.weight'] = torch.randn(1000, 2048, generator=gen)
    port['module.fc.bias'] = torch.randn(1000, generator=gen)
    src, dst = tmp_path / 'resnet50-1x.pth', tmp_path / 'r50_simclr.pth'
    torch.save({'state_dict': port}, src)
    simclr_tool.main([str(src), str(dst)])
    loaded = _load_checkpoint_with_prefix('backbone.', str(dst))
    assert 'fc.weight' not in loaded
    r50_model.load_state_dict(loaded, strict=True)
    assert torch.equal(r50_model.layer3[5].conv2.weight.data,
                       port['module.layer3.5.conv2.weight'])
    assert torch.equal(r50_model.layer1[0].downsample[1].running_var,
                       port['module.layer1.0.downsample.1.running_var'])


def test_simclr_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match='2x/4x'):
        simclr_tool.convert_simclr(tf_simclr_checkpoint(zeros=True, width=2))
    with pytest.raises(ValueError, match='selective-kernel'):
        simclr_tool.convert_simclr(
            tf_simclr_checkpoint(zeros=True, sk_extra=True))
    with pytest.raises(ValueError, match='another depth'):
        simclr_tool.convert_simclr(
            tf_simclr_checkpoint(zeros=True, stages=(3, 4, 23, 3)), depth=50)
    incomplete = tf_simclr_checkpoint(zeros=True)
    del incomplete['base_model/batch_normalization_7/moving_mean']
    with pytest.raises(ValueError, match='lacks moving_mean'):
        simclr_tool.convert_simclr(incomplete)
    with pytest.raises(ValueError, match='unsupported SimCLR checkpoint'):
        simclr_tool.convert_simclr({'encoder.0.weight': torch.zeros(1)})
    # a torchvision ResNet-18 is no ResNet-50
    r18 = {
        'conv1.weight': torch.zeros(64, 3, 7, 7),
        'layer1.0.conv1.weight': torch.zeros(64, 64, 3, 3)
    }
    with pytest.raises(ValueError, match='missing'):
        simclr_tool.convert_simclr(r18)
