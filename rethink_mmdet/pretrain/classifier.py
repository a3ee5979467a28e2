# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``BackboneClassifier``: pre-train a detector backbone on classification.

He et al. 2019 ("Rethinking ImageNet Pre-training", Sec. 1 and 5) compare
detectors trained from random init with detectors whose backbone was
pre-trained on ImageNet classification and then fine-tuned with GN. This
model is that upstream stage for any mmdet backbone: backbone, global
average pooling of its last output, one linear layer, cross-entropy (the
classification head of ResNet, He et al. 2016, Sec. 3). The backbone sits
under ``backbone.`` in the ``state_dict``, so a detector loads it with
mmengine's ``init_cfg=dict(type='Pretrained', prefix='backbone.',
checkpoint=...)``.
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmdet.registry import MODELS

__all__ = ['BackboneClassifier']

#: The modes of :meth:`BackboneClassifier.forward` (mmengine's convention).
CLS_MODES = ('loss', 'predict', 'tensor')


@MODELS.register_module()
class BackboneClassifier(BaseModel):
    """Image classifier around any backbone in mmdet's ``MODELS``.

    Args:
        backbone (dict): Backbone config, e.g. mmdet's ``ResNet``; the last
            element of its output tuple is classified.
        num_classes (int): Number of classes.
        in_channels (int): Channels of the backbone's last output (128 for
            the tiny ResNet-18 of ``configs/shapes``).
        data_preprocessor (dict, optional): e.g. mmengine's
            ``ImgDataPreprocessor`` with the detector's mean/std, so the
            fine-tuned backbone sees the inputs it was pre-trained on.
            Defaults to None (mmengine's ``BaseDataPreprocessor``).
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to ``dict(type='Normal', layer='Linear', std=0.01)``
            (the head; the backbone keeps its own ``init_cfg``).
    """

    def __init__(self,
                 backbone: dict,
                 num_classes: int,
                 in_channels: int,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01)):
        for name, value in (('num_classes', num_classes), ('in_channels',
                                                           in_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'BackboneClassifier: {name}={value!r} must '
                                 'be a positive int.')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = nn.Linear(in_channels, num_classes)
        self.num_classes = num_classes

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled last backbone output, shape (N, C).

        Args:
            inputs (torch.Tensor): Normalized images, shape (N, 3, H, W).

        Returns:
            torch.Tensor: Pooled features.
        """
        feats = self.backbone(inputs)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return torch.flatten(F.adaptive_avg_pool2d(feats, 1), 1)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """mmengine's three modes.

        Args:
            inputs (torch.Tensor): Normalized images, shape (N, 3, H, W).
            data_samples (list[BaseDataElement], optional): With ``gt_label``
                for ``'loss'``. Defaults to None.
            mode (str): ``'loss'`` (dict with the cross-entropy ``loss``),
                ``'predict'`` (the data samples with ``pred_score``, the
                softmax, and ``pred_label``) or ``'tensor'`` (logits, shape
                (N, num_classes)). Defaults to ``'tensor'``.

        Returns:
            dict | list[BaseDataElement] | torch.Tensor: See ``mode``.
        """
        if mode not in CLS_MODES:
            raise ValueError(f'BackboneClassifier: mode={mode!r} is not one '
                             f'of {CLS_MODES}.')
        logits = self.head(self.extract_feat(inputs))
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            return self.loss(logits, data_samples)
        return self.predict(logits, data_samples)

    def loss(
        self, logits: torch.Tensor,
        data_samples: Optional[List[BaseDataElement]]
    ) -> Dict[str, torch.Tensor]:
        """Cross-entropy against the samples' ``gt_label``."""
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise ValueError(
                "BackboneClassifier: mode='loss' needs data samples with "
                "gt_label; pack the images with PackClsInputs from a "
                'dataset that has labels (ShapesClsDataset).')
        labels = torch.cat([s.gt_label
                            for s in data_samples]).to(logits.device)
        return dict(loss=F.cross_entropy(logits, labels))

    def predict(
        self, logits: torch.Tensor,
        data_samples: Optional[List[BaseDataElement]]
    ) -> List[BaseDataElement]:
        """Attach ``pred_score`` and ``pred_label`` to the data samples."""
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(len(logits))]
        scores = logits.softmax(dim=1).detach()
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax(keepdim=True)
        return data_samples
