# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The segmentation head of Zoph et al. 2020's PASCAL segmentor.

Zoph et al. 2020, Sec. 3.2 [V]: the NAS-FPN levels P3-P7 are upsampled to
the size of P2 (stride 4) and summed, then three 3x3 convolutions and a
1x1 classifier predict 21 classes. The release calls the fusion
``use_pyramid_fusion`` and the convs ``segmentation_head: level: 2,
num_convs: 3`` (tensorflow/tpu ``projects/self_training/configs/
pascal_seg_efficientnet-*-nasfpn.yaml`` [V]; ``nn_ops.
pyramid_feature_fusion``: bilinear resize of every level to the target
level's size, then ``add_n``).
"""
import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS

__all__ = ['PyramidFusionHead']


@MODELS.register_module()
class PyramidFusionHead(BaseDecodeHead):
    """Sum of all pyramid levels at stride ``2 ** target_level``, then
    ``num_convs`` 3x3 ConvModules and the 1x1 classifier ``conv_seg``.

    Every input level is resized (bilinear) to ``2 ** (min_level -
    target_level)`` times the size of the finest input (P3 -> P2: twice
    the P3 size), and the levels are summed: the inputs must all have
    ``in_channels[0]`` channels (NAS-FPN's outputs do). The loss and the
    prediction are :class:`BaseDecodeHead`'s (``loss_by_feat``: logits
    resized to the label size, cross-entropy with ``ignore_index``).

    Config form (Zoph et al. 2020)::

        decode_head=dict(type='PyramidFusionHead', in_channels=[256] * 5,
                         in_index=[0, 1, 2, 3, 4], channels=256,
                         num_classes=21, norm_cfg=dict(type='SyncBN'))

    Args:
        num_convs (int): 3x3 ConvModules after the fusion (Zoph et al.:
            3). Defaults to 3.
        min_level (int): Pyramid level of the finest input (P3). Defaults
            to 3.
        target_level (int): Level the inputs are fused at (P2, stride 4).
            Defaults to 2.
        dropout_ratio (float): Dropout before ``conv_seg``. Defaults to
            0.0 (the release has none; :class:`BaseDecodeHead`'s default
            is 0.1).
        input_transform (str): Must be 'multiple_select' (the levels of
            ``in_index`` as a list, summed here). Defaults to
            'multiple_select'.
        **kwargs: :class:`BaseDecodeHead`'s other arguments
            (``in_channels`` a list, one per level, ``in_index`` the same
            length, ``channels``, ``num_classes``, ``norm_cfg``, ...).
    """

    def __init__(self,
                 num_convs=3,
                 min_level=3,
                 target_level=2,
                 dropout_ratio=0.0,
                 input_transform='multiple_select',
                 **kwargs):
        name = type(self).__name__
        if input_transform != 'multiple_select':
            raise ValueError(
                f'{name}: input_transform={input_transform!r}; the levels '
                "are summed here, so it must be 'multiple_select'.")
        super().__init__(
            dropout_ratio=dropout_ratio,
            input_transform=input_transform,
            **kwargs)
        if len(set(self.in_channels)) != 1:
            raise ValueError(
                f'{name}: the levels are summed, so they need equal '
                f'channels; got in_channels={self.in_channels}. Give the '
                'neck one out_channels for every level.')
        if target_level > min_level:
            raise ValueError(
                f'{name}: target_level={target_level} is coarser than '
                f'min_level={min_level}; the levels are upsampled to the '
                'target (Zoph et al.: P3-P7 to P2).')
        self.num_convs = num_convs
        self.min_level = min_level
        self.target_level = target_level
        convs = []
        for i in range(num_convs):
            convs.append(
                ConvModule(
                    self.in_channels[0] if i == 0 else self.channels,
                    self.channels,
                    3,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg))
        self.convs = torch.nn.Sequential(*convs)

    def fuse(self, inputs):
        """Resize every level to the target size and sum them."""
        levels = self._transform_inputs(inputs)
        scale = 2**(self.min_level - self.target_level)
        size = tuple(s * scale for s in levels[0].shape[2:])
        fused = None
        for feat in levels:
            if feat.shape[2:] != size:
                feat = resize(
                    feat,
                    size=size,
                    mode='bilinear',
                    align_corners=self.align_corners)
            fused = feat if fused is None else fused + feat
        return fused

    def forward(self, inputs):
        """Logits at the target level's stride (4 for P2)."""
        return self.cls_seg(self.convs(self.fuse(inputs)))
