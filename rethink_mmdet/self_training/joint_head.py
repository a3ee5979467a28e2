# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The classification head of joint training (Zoph et al. 2020, Sec. 4.4):
image classification on the detector's own backbone, used by
:class:`~.joint.JointTrainingDetector`."""
import math
from typing import Dict, List, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdet.structures import SampleList

__all__ = ['CLS_HEAD_KEY', 'JointClsHead']

#: Attribute of the head in the joint model (its ``state_dict`` prefix).
CLS_HEAD_KEY = 'cls_head'


@MODELS.register_module()
class JointClsHead(BaseModule):
    """Image classification head on a detector's backbone.

    Global average pooling of the backbone's last output, one linear layer
    and cross-entropy (the classification head of ResNet, He et al. 2016,
    as :class:`~rethink_mmdet.pretrain.classifier.BackboneClassifier`). The
    pooling covers each image's own area of the padded batch
    (``img_shape`` of ``batch_input_shape``), so padding does not dilute
    it.

    Args:
        num_classes (int): Number of classes (1000 for ImageNet).
        in_channels (int): Channels of the backbone's last output.
            :class:`JointTrainingDetector` fills it from the detector's neck
            (``neck.in_channels[-1]``) when it is None.
        init_cfg (dict | list[dict], optional): Defaults to
            ``dict(type='Normal', layer='Linear', std=0.01)``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        init_cfg: Union[dict, List[dict],
                        None] = dict(type='Normal', layer='Linear', std=0.01)
    ) -> None:
        for name, value in (('num_classes', num_classes), ('in_channels',
                                                           in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 1:
                raise ValueError(
                    f'JointClsHead: {name}={value!r} must be a positive int '
                    f'(model.{CLS_HEAD_KEY}.{name}).')
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.fc = nn.Linear(in_channels, num_classes)

    def pool(self, feat: Tensor, samples: SampleList) -> Tensor:
        """Average of each image's own area of ``feat`` (N, C, h, w)."""
        num, _, height, width = feat.shape
        mask = feat.new_zeros((num, 1, height, width))
        for i, sample in enumerate(samples):
            meta = sample.metainfo
            pad_h, pad_w = meta.get('batch_input_shape', (height, width))
            img_h, img_w = meta.get('img_shape', (pad_h, pad_w))[:2]
            rows = min(height, max(1, math.ceil(img_h * height / pad_h)))
            cols = min(width, max(1, math.ceil(img_w * width / pad_w)))
            mask[i, :, :rows, :cols] = 1
        return (feat * mask).sum((2, 3)) / mask.sum((2, 3))

    def forward(self, feats: Union[Tensor, Sequence[Tensor]],
                samples: SampleList) -> Tensor:
        """Logits (N, num_classes) of the backbone outputs ``feats`` (the
        last one is used)."""
        feat = feats[-1] if isinstance(feats, (list, tuple)) else feats
        if feat.dim() != 4 or feat.shape[1] != self.fc.in_features:
            raise ValueError(
                f'JointClsHead: the backbone\'s last output has shape '
                f'{tuple(feat.shape)}, but the head expects (N, '
                f'{self.fc.in_features}, H, W). Set model.{CLS_HEAD_KEY}.'
                'in_channels to the channels of the last backbone stage.')
        return self.fc(self.pool(feat, samples))

    def loss(self, feats: Union[Tensor, Sequence[Tensor]],
             samples: SampleList) -> Dict[str, Tensor]:
        """Cross-entropy against each sample's ``gt_label`` and the top-1
        accuracy.

        Returns:
            dict: ``loss_cls`` (with gradient) and ``cls_acc`` (detached).
        """
        labels = []
        for sample in samples:
            label = sample.get('gt_label')
            if label is None:
                raise KeyError(
                    'JointClsHead: a classification sample '
                    f'({sample.metainfo.get("img_path")}) has no gt_label. '
                    "End its pipeline with dict(type='PackJointClsInputs').")
            labels.append(label.reshape(-1)[:1])
        logits = self(feats, samples)
        labels = torch.cat(labels).to(logits.device)
        outside = labels[(labels < 0) | (labels >= self.num_classes)]
        if len(outside):
            raise ValueError(
                f'JointClsHead: labels {outside.unique().tolist()} outside '
                f'[0, {self.num_classes}); set model.{CLS_HEAD_KEY}.'
                'num_classes to the number of classes of the classification '
                'source.')
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return dict(loss_cls=F.cross_entropy(logits, labels), cls_acc=acc)
