# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""CocoSubsetDataset: COCO whose annotation file must be the share of the
labels its config names.

Zoph et al. 2020 train on 20%, 50% and 100% of the COCO train2017 labels
[V]; a config named ``..._coco-20p.py`` must therefore read a file with 20%
of train2017's images. A file of another share (the full file, the 50%
subset, or mmdet's ``tools/misc/split_coco.py`` output, which samples with
replacement and gives about 18% for 20%) would train another arm under the
name of this one. :func:`~.subset.make_subset` draws exactly
``round(fraction * total)`` images, so the check is exact.
"""
from typing import List, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from .subset import num_images_from_fraction

__all__ = ['COCO_TRAIN2017_IMAGES', 'LabelShareError', 'CocoSubsetDataset']

#: Images in COCO 2017's instances_train2017.json.
COCO_TRAIN2017_IMAGES = 118287


class LabelShareError(ValueError):
    """An annotation file that is not the share of labels asked for."""


@DATASETS.register_module()
class CocoSubsetDataset(CocoDataset):
    """mmdet's ``CocoDataset`` that checks its annotation file holds
    ``label_fraction`` of a full set of ``full_size`` images.

    Args:
        label_fraction (float, optional): The share of the full set's
            images the file must hold, as ``tools/make_subset.py
            --fraction`` draws it (``round(fraction * full_size)``, halves
            up). None: no check. Defaults to None.
        full_size (int): Images of the full set. Defaults to
            :data:`COCO_TRAIN2017_IMAGES` (118,287).
        **kwargs: ``CocoDataset``'s arguments.
    """

    def __init__(self,
                 *args,
                 label_fraction: Optional[float] = None,
                 full_size: int = COCO_TRAIN2017_IMAGES,
                 **kwargs) -> None:
        self.label_fraction = label_fraction
        self.full_size = full_size
        self.expected_images = (None if label_fraction is None else
                                num_images_from_fraction(
                                    label_fraction, full_size))
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """The data list of every image of the file (before filtering),
        checked against ``label_fraction``.

        Raises:
            LabelShareError: Naming the file, both counts and the fix.
        """
        data_list = super().load_data_list()
        found = len(data_list)
        if self.expected_images is not None and found != self.expected_images:
            raise LabelShareError(
                f'CocoSubsetDataset: {self.ann_file} holds {found} images, '
                f'but label_fraction={self.label_fraction} of '
                f'{self.full_size} asks for {self.expected_images} (the '
                'share the config\'s name states, e.g. coco-20p). Point '
                'train_dataloader.dataset.ann_file at a subset drawn by '
                'tools/make_subset.py --fraction '
                f'{self.label_fraction} (the config\'s header has the '
                'command), or set label_fraction to the share of this '
                'file (None: no check).')
        return data_list
