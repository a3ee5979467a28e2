"""The PASCAL segmentor's components (Zoph et al. 2020, Sec. 3.2):
depth-wise separable convs in mmdet's NAS-FPN, the pyramid-fusion head
(stride 4), EfficientNet-L2 on mmdet's EfficientNet. Real modules, CPU."""
import pytest
import torch

pytest.importorskip('mmseg')

from mmcv.cnn import ConvModule, build_conv_layer  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from torch import nn  # noqa: E402

import rethink_mmdet.seg  # noqa: E402,F401
from mmdet.models.necks import NASFPN  # noqa: E402
from rethink_mmdet.seg import DepthwiseSeparableConv2d  # noqa: E402
from rethink_mmdet.seg import EfficientNetWithL2  # noqa: E402
from rethink_mmdet.seg import SeparableNASFPN  # noqa: E402

SEP = dict(type='DepthwiseSeparableConv2d')


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('bias', [True, False])
def test_separable_conv_params_are_depthwise_plus_pointwise(bias):
    conv = build_conv_layer(SEP, 32, 48, 3, padding=1, bias=bias)
    assert isinstance(conv, DepthwiseSeparableConv2d)
    depthwise = 32 * 3 * 3  # one 3x3 filter per input channel, no bias
    pointwise = 32 * 48 + (48 if bias else 0)
    assert n_params(conv) == depthwise + pointwise
    assert n_params(conv.depthwise_conv) == depthwise
    assert n_params(conv.pointwise_conv) == pointwise
    x = torch.randn(2, 32, 10, 12)
    assert conv(x).shape == nn.Conv2d(32, 48, 3, padding=1)(x).shape


def test_separable_conv_in_a_conv_module_and_its_errors():
    module = ConvModule(
        16, 16, 3, padding=1, conv_cfg=SEP, norm_cfg=dict(type='BN'))
    assert isinstance(module.conv, DepthwiseSeparableConv2d)
    # a norm follows: ConvModule('auto') drops the point-wise bias
    assert module.conv.bias is None
    module.init_weights()
    assert module(torch.randn(1, 16, 8, 8)).shape == (1, 16, 8, 8)
    with pytest.raises(ValueError, match='groups must be 1'):
        DepthwiseSeparableConv2d(16, 16, 3, groups=2)


def test_separable_nasfpn_is_mmdets_nasfpn_with_the_conv_type():
    args = dict(in_channels=[8, 16, 32], out_channels=16, num_outs=5)
    plain = NASFPN(stack_times=2, **args)
    same = SeparableNASFPN(stack_times=2, conv_cfg=None, **args)
    assert n_params(same) == n_params(plain)
    assert list(same.state_dict()) == list(plain.state_dict())
    sep = SeparableNASFPN(stack_times=7, **args)
    assert len(sep.fpn_stages) == 7  # Zoph et al.: 7 repeats
    out_convs = [
        cell.out_conv.conv for stage in sep.fpn_stages
        for cell in stage.values() if cell.with_out_conv
    ]
    assert len(out_convs) == 7 * 7
    assert all(isinstance(c, DepthwiseSeparableConv2d) for c in out_convs)
    # a 3x3 separable cell conv: 16*9 + 16*16 + 16 instead of 16*16*9 + 16
    saved = (16 * 16 * 9 + 16) - (16 * 9 + 16 * 16 + 16)
    assert n_params(SeparableNASFPN(stack_times=7, conv_cfg=None, **args)) \
        - n_params(sep) == 7 * 7 * saved
    feats = [torch.randn(1, c, s, s) for c, s in ((8, 16), (16, 8), (32, 4))]
    outs = sep(feats)
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2, 1]


def _head(**kwargs):
    cfg = dict(
        type='PyramidFusionHead',
        in_channels=[16] * 5,
        in_index=[0, 1, 2, 3, 4],
        channels=24,
        num_classes=21)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_head_predicts_at_stride_4_and_has_three_convs():
    head = _head()
    assert len(head.convs) == 3
    assert head.conv_seg.kernel_size == (1, 1)
    assert head.conv_seg.out_channels == 21
    # P3..P7 of a 128x128 image: strides 8..128
    feats = [
        torch.randn(2, 16, 128 // s, 128 // s) for s in (8, 16, 32, 64, 128)
    ]
    logits = head(feats)
    assert logits.shape == (2, 21, 32, 32)  # 128 / 4: P2
    # the fusion is the sum of the levels resized to the P2 size
    fused = head.fuse(feats)
    assert fused.shape == (2, 16, 32, 32)
    # BaseDecodeHead's loss, with ignored pixels
    samples = []
    for _ in range(2):
        label = torch.randint(0, 21, (1, 128, 128))
        label[:, :10] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        samples.append(sample)
    losses = head.loss_by_feat(logits, samples)
    assert torch.isfinite(losses['loss_ce'])


def test_head_errors_name_the_fix():
    with pytest.raises(ValueError, match='equal'):
        _head(in_channels=[16, 16, 32, 16, 16])
    with pytest.raises(ValueError, match='multiple_select'):
        _head(input_transform='resize_concat')
    with pytest.raises(ValueError, match='coarser'):
        _head(target_level=4)


def test_efficientnet_l2_arch_and_errors():
    assert EfficientNetWithL2.arch_settings['l2'] == (4.3, 5.3, 800)
    assert EfficientNetWithL2.arch_settings['b7'] == (2.0, 3.1, 600)
    # the B7 backbone is mmdet's own (stages 3-5: 80, 224, 640)
    small = EfficientNetWithL2(arch='b0', out_indices=(3, 4, 5))
    outs = small(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [40, 112, 320]
    with pytest.raises(KeyError, match='unknown arch'):
        EfficientNetWithL2(arch='l3')
