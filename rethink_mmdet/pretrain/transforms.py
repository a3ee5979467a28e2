# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``PackClsInputs``: pack an image and its label for
:class:`~.classifier.BackboneClassifier` (mmdet has no classification
packer and mmpretrain is not a dependency)."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mmdet.registry import TRANSFORMS

__all__ = ['PackClsInputs']


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack an image and its class label into ``inputs`` and
    ``data_samples``.

    Required Keys:

    - img (np.uint8, HWC)
    - gt_label (int) (optional: absent at inference)

    Added Keys:

    - inputs (torch.Tensor, uint8, CHW)
    - data_samples (BaseDataElement): ``gt_label`` as a 1-element int64
      tensor; the ``meta_keys`` present in the results as metainfo.

    Args:
        meta_keys (tuple[str]): Result keys copied into the data sample's
            metainfo. Defaults to ``('img_path', 'ori_shape', 'img_shape',
            'flip', 'flip_direction')``.
    """

    def __init__(self,
                 meta_keys=('img_path', 'ori_shape', 'img_shape', 'flip',
                            'flip_direction')):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results``.

        Args:
            results (dict): Result dict from the data pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        img = results['img']
        if img.ndim < 3:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={
            key: results[key]
            for key in self.meta_keys if key in results
        })
        if results.get('gt_label') is not None:
            sample.gt_label = torch.as_tensor([results['gt_label']],
                                              dtype=torch.int64)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
