# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""A depth-wise separable convolution as a conv *layer* type.

Zoph et al. 2020, Sec. 3.2: the PASCAL segmentor's NAS-FPN uses "depth-wise
separable convolutions" [V]; the released config sets
``nasfpn.use_separable_conv: true`` (tensorflow/tpu ``projects/
self_training/configs/pascal_seg_efficientnet-b7-nasfpn.yaml`` [V]), whose
NAS-FPN builds its merge-cell convs with TF's ``separable_conv2d``: a
``k x k`` depth-wise conv (one filter per input channel, no bias) followed
by a ``1 x 1`` point-wise conv (with bias), nothing between them.

Registered in mmengine's root ``MODELS``, where mmcv's ``build_conv_layer``
finds conv layers from any scope (mmcv registers ``Conv2d`` there too), so
any ``conv_cfg`` takes it::

    conv_cfg = dict(type='DepthwiseSeparableConv2d')

Unlike mmcv's ``DepthwiseSeparableConvModule`` (two ConvModules, each with
its own norm and activation), this is one conv layer: a ``ConvModule`` with
this ``conv_cfg`` puts its single norm / activation around the pair, as
TF's ``separable_conv2d`` inside NAS-FPN does.
"""
import torch.nn as nn
from mmengine.registry import MODELS

__all__ = ['DepthwiseSeparableConv2d']


@MODELS.register_module()
class DepthwiseSeparableConv2d(nn.Module):
    """Depth-wise ``k x k`` conv then point-wise ``1 x 1`` conv.

    The constructor takes ``nn.Conv2d``'s arguments, so ``build_conv_layer``
    and ``ConvModule`` use it as a drop-in conv. Parameters: ``in_channels
    * k * k`` (depth-wise, no bias) ``+ in_channels * out_channels`` (+
    ``out_channels`` with ``bias``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int]): Kernel of the depth-wise conv.
        stride (int | tuple[int]): Stride of the depth-wise conv.
            Defaults to 1.
        padding (int | tuple[int]): Padding of the depth-wise conv.
            Defaults to 0.
        dilation (int | tuple[int]): Dilation of the depth-wise conv.
            Defaults to 1.
        groups (int): Must be 1: the depth-wise conv is grouped by
            construction. Defaults to 1.
        bias (bool): Bias of the point-wise conv (TF's ``separable_conv2d``
            has one bias, after the point-wise conv). Defaults to True.
        padding_mode (str): As ``nn.Conv2d``'s. Defaults to 'zeros'.
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups=1,
                 bias=True,
                 padding_mode='zeros'):
        super().__init__()
        if groups != 1:
            raise ValueError(
                f'DepthwiseSeparableConv2d: groups={groups}; the depth-wise '
                'conv is grouped per channel by construction, so groups '
                'must be 1 (use conv_cfg=None for a grouped plain conv).')
        self.depthwise_conv = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=in_channels,
            bias=False,
            padding_mode=padding_mode)
        self.pointwise_conv = nn.Conv2d(
            in_channels, out_channels, 1, bias=bias)
        # what ConvModule reads of a conv layer
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = self.depthwise_conv.kernel_size
        self.stride = self.depthwise_conv.stride
        self.padding = self.depthwise_conv.padding
        self.dilation = self.depthwise_conv.dilation
        self.transposed = False
        self.output_padding = (0, 0)
        self.groups = 1

    @property
    def bias(self):
        """The point-wise conv's bias (ConvModule checks ``conv.bias``)."""
        return self.pointwise_conv.bias

    def forward(self, x):
        """Depth-wise, then point-wise."""
        return self.pointwise_conv(self.depthwise_conv(x))
