# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``TopKAccuracy``: top-k classification accuracy in mmdet's ``METRICS``.

Neither mmengine nor mmdet 3.3 ships a classification accuracy (mmpretrain's
``Accuracy`` is not a dependency). The keys follow mmpretrain's
(``accuracy/top1``), in percent, so logs read the same.
"""
from typing import Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmdet.registry import METRICS

__all__ = ['TopKAccuracy']


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """Top-k accuracy (percent) of ``pred_score`` against ``gt_label``.

    Args:
        topk (int | tuple[int]): The k values; a sample counts for top-k when
            its label is among the k highest scores. Defaults to 1.
        collect_device (str): Device for collecting results across ranks.
            Defaults to ``'cpu'``.
        prefix (str, optional): Metric key prefix. Defaults to None
            (``'accuracy'``: keys ``accuracy/top1``, ...).
    """

    default_prefix = 'accuracy'

    def __init__(self,
                 topk=1,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(not isinstance(k, int) or k < 1
                                for k in self.topk):
            raise ValueError(
                f'TopKAccuracy: topk={topk!r} must be a positive int or a '
                'tuple of them, e.g. topk=(1, 2).')

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep, per sample, whether its label is in each top-k.

        Args:
            data_batch: Unused.
            data_samples (Sequence[BaseDataElement | dict]): Outputs of
                ``BackboneClassifier.forward(mode='predict')`` with
                ``pred_score`` and ``gt_label``.
        """
        for sample in data_samples:
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            score = torch.as_tensor(sample['pred_score']).flatten()
            label = int(torch.as_tensor(sample['gt_label']).flatten()[0])
            if max(self.topk) > score.numel():
                raise ValueError(f'TopKAccuracy: topk={self.topk} exceeds the '
                                 f'{score.numel()} classes; lower topk.')
            order = score.argsort(descending=True)
            rank = int((order == label).nonzero()[0, 0])
            self.results.append([rank < k for k in self.topk])

    def compute_metrics(self, results: list) -> dict:
        """Percent of samples with their label in the top k.

        Args:
            results (list[list[bool]]): From :meth:`process`.

        Returns:
            dict: ``{'top1': ..., ...}``.
        """
        hits = torch.tensor(results, dtype=torch.float64)
        return {
            f'top{k}': float(hits[:, i].mean() * 100)
            for i, k in enumerate(self.topk)
        }
