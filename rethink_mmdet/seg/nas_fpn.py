# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""mmdet's NAS-FPN with a conv type for its merge cells' output convs.

Zoph et al. 2020, Sec. 3.2: the PASCAL segmentor is "NAS-FPN (7 repeats,
depth-wise separable convolutions)" [V] (released config: ``nasfpn:
num_repeats: 7, use_separable_conv: true`` [V]). mmdet's ``NASFPN``
(Ghiasi et al. 2019) builds each merge cell's 3x3 output conv as a plain
conv and takes no conv config; mmcv's merge cells do take one
(``out_conv_cfg``, passed to their output ``ConvModule``). This neck is
``NASFPN`` with the same cells, wiring and forward, each cell built with
``out_conv_cfg=dict(kernel_size=3, padding=1, bias=True,
conv_cfg=conv_cfg)``; with ``conv_cfg=None`` it is mmdet's ``NASFPN``
exactly (same modules, same parameters).
"""
from mmcv.ops.merge_cells import GlobalPoolingCell, SumCell
from mmengine.model import ModuleList
from mmseg.registry import MODELS
from torch import nn

from mmdet.models.necks import NASFPN

__all__ = ['SeparableNASFPN']

#: mmdet's NASFPN stage (``NASFPN.__init__``): cell name -> (cell class,
#: whether it has an output conv). The names are the keys its forward uses.
NASFPN_CELLS = (
    ('gp_64_4', GlobalPoolingCell, True),  # gp(p6, p4) -> p4_1
    ('sum_44_4', SumCell, True),  # sum(p4_1, p4) -> p4_2
    ('sum_43_3', SumCell, True),  # sum(p4_2, p3) -> p3_out
    ('sum_34_4', SumCell, True),  # sum(p3_out, p4_2) -> p4_out
    ('gp_43_5', GlobalPoolingCell, False),  # gp(p4_out, p3_out)
    ('sum_55_5', SumCell, True),  # sum(p5, gp(...)) -> p5_out
    ('gp_54_7', GlobalPoolingCell, False),  # gp(p5_out, p4_2)
    ('sum_77_7', SumCell, True),  # sum(p7, gp(...)) -> p7_out
    ('gp_75_6', GlobalPoolingCell, True),  # gp(p7_out, p5_out) -> p6_out
)


@MODELS.register_module()
class SeparableNASFPN(NASFPN):
    """NAS-FPN whose merge-cell output convs are of type ``conv_cfg``.

    Config form (Zoph et al. 2020's PASCAL neck)::

        neck=dict(type='SeparableNASFPN', in_channels=[80, 224, 640],
                  out_channels=256, num_outs=5, stack_times=7,
                  conv_cfg=dict(type='DepthwiseSeparableConv2d'),
                  norm_cfg=dict(type='SyncBN', requires_grad=True))

    The lateral 1x1 convs and the extra P6/P7 downsamples stay plain
    convs (a 1x1 depth-wise separable conv is a 1x1 conv with an extra
    per-channel scale). Outputs: P3-P7 of ``out_channels`` each.

    Args:
        in_channels (list[int]): Input channels per backbone level.
        out_channels (int): Channels of every output level.
        num_outs (int): Output levels (5: P3-P7 from P3-P5).
        stack_times (int): Repeats of the NAS-FPN stage (Zoph et al.: 7).
        start_level (int): First backbone level used. Defaults to 0.
        end_level (int): Last backbone level used, -1 for the last.
            Defaults to -1.
        conv_cfg (dict, optional): Conv layer of the cells' 3x3 output
            convs (``build_conv_layer``). Defaults to
            ``dict(type='DepthwiseSeparableConv2d')``; None gives mmdet's
            plain convs.
        norm_cfg (dict, optional): Norm of every conv. Defaults to None.
        init_cfg (dict | list[dict]): Defaults to mmdet's
            ``dict(type='Caffe2Xavier', layer='Conv2d')`` (it reaches the
            two convs inside a separable conv too).
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 num_outs,
                 stack_times,
                 start_level=0,
                 end_level=-1,
                 conv_cfg=dict(type='DepthwiseSeparableConv2d'),
                 norm_cfg=None,
                 init_cfg=dict(type='Caffe2Xavier', layer='Conv2d')):
        # mmdet builds the laterals and the P6/P7 downsamples; its stages
        # (plain convs) are built here instead, so none is built twice.
        super().__init__(
            in_channels,
            out_channels,
            num_outs,
            stack_times=0,
            start_level=start_level,
            end_level=end_level,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
        self.stack_times = stack_times
        self.conv_cfg = conv_cfg
        self.fpn_stages = ModuleList(self._build_stage()
                                     for _ in range(stack_times))

    def _build_stage(self):
        """One NAS-FPN stage: mmdet's cells, ``conv_cfg`` output convs."""
        out_conv_cfg = dict(
            kernel_size=3, padding=1, bias=True, conv_cfg=self.conv_cfg)
        stage = nn.ModuleDict()
        for name, cell, with_out_conv in NASFPN_CELLS:
            if with_out_conv:
                stage[name] = cell(
                    in_channels=self.out_channels,
                    out_channels=self.out_channels,
                    out_conv_cfg=out_conv_cfg,
                    out_norm_cfg=self.norm_cfg)
            else:
                stage[name] = cell(with_out_conv=False)
        return stage
