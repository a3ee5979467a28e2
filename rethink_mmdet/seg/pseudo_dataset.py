# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""A segmentation pseudo-label store as an MMSegmentation dataset.

Zoph et al. 2020, Sec. 3.2: the student trains on human label maps and the
teacher's pseudo label maps (pixels below the probability threshold carry
the ignore label, 255, left out of the loss). :class:`PseudoSegDataset`
serves a store of :mod:`.labeler` as ``img_path`` / ``seg_map_path`` pairs,
which mmseg's ``LoadAnnotations`` reads like any class-map PNG, optionally
without the images the teacher was least sure of.
"""
import copy
from typing import List, Optional

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from rethink_mmdet.self_training.store.layout import PseudoLabelStoreError
from .pseudo_reader import PseudoSegStore

__all__ = ['PseudoSegDataset']


@DATASETS.register_module()
class PseudoSegDataset(BaseSegDataset):
    """Images and their teacher label maps from a segmentation
    pseudo-label store.

    Config form::

        dict(type='PseudoSegDataset', store='work_dirs/pseudo_seg',
             min_kept_fraction=0.2, pipeline=train_pipeline)

    The class names are the store's (``metainfo`` may rename them, as for
    any mmseg dataset). A data info holds ``img_path``, ``seg_map_path``
    (the label map), ``reduce_zero_label`` (False), ``seg_fields``,
    ``label_map`` and the image's ``pseudo_mean_confidence`` and
    ``pseudo_ignore_fraction``.

    Args:
        store (str): A finished store directory (``tools/pseudo_label.py``
            with an mmseg teacher config).
        img_root (str, optional): Root of the store's image paths. Defaults
            to None: the source root recorded in the store.
        min_kept_fraction (float): Keep only images with at least this
            fraction of their pixels labeled (not ignored). Defaults to 0.0
            (every image, as Zoph et al. 2020).
        min_mean_confidence (float): Keep only images whose mean over
            pixels of the highest averaged class probability is at least
            this. Defaults to 0.0 (every image).
        reduce_zero_label (bool): Must stay False: the label maps hold the
            teacher's own class indexes. Defaults to False.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments
            (``pipeline``, ``metainfo``, ``indices``, ``lazy_init``, ...).
            ``ignore_index`` defaults to the store's (255).
    """

    def __init__(self,
                 store: str,
                 img_root: Optional[str] = None,
                 min_kept_fraction: float = 0.0,
                 min_mean_confidence: float = 0.0,
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError(
                'PseudoSegDataset: reduce_zero_label=True would shift the '
                "teacher's class indexes of the label maps by one; the store "
                'already uses the teacher classes. Remove it.')
        for name, value in (('min_kept_fraction', min_kept_fraction),
                            ('min_mean_confidence', min_mean_confidence)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'PseudoSegDataset: {name}={value} is a '
                                 'fraction: give a value in [0, 1].')
        self.store = PseudoSegStore(store, img_root)
        self.min_kept_fraction = float(min_kept_fraction)
        self.min_mean_confidence = float(min_mean_confidence)
        metainfo = copy.deepcopy(kwargs.pop('metainfo', None)) or {}
        metainfo.setdefault('classes', self.store.classes)
        kwargs.setdefault('ignore_index', self.store.ignore_index)
        super().__init__(metainfo=metainfo, reduce_zero_label=False, **kwargs)

    def kept_indexes(self) -> np.ndarray:
        """Store indexes of the images the filters keep, in store order."""
        kept = 1.0 - np.asarray(self.store.ignore_fraction, np.float64)
        conf = np.asarray(self.store.mean_confidence, np.float64)
        return np.flatnonzero((kept >= self.min_kept_fraction)
                              & (conf >= self.min_mean_confidence))

    def load_data_list(self) -> List[dict]:
        """One data info per kept image of the store.

        Raises:
            PseudoLabelStoreError: The store holds no image, or the filters
                leave none (an empty pseudo-label set would train the
                student on human labels only).
        """
        store = self.store
        if len(store) == 0:
            raise PseudoLabelStoreError(
                f'{store.store_dir}: the pseudo-label store holds no label '
                f'map ({store.meta.get("num_skipped", 0)} images skipped as '
                'unreadable, see meta.json "skipped"): fix the image source '
                'and label again with tools/pseudo_label.py into a new '
                '--out.')
        data_list = []
        for i in self.kept_indexes():
            mean_conf, ignored = store.confidence(i)
            data_list.append(
                dict(
                    img_path=store.image_path(i),
                    seg_map_path=store.label_path(i),
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[],
                    pseudo_mean_confidence=mean_conf,
                    pseudo_ignore_fraction=ignored))
        if not data_list:
            most = float(1.0 - np.min(store.ignore_fraction))
            best = float(np.max(store.mean_confidence))
            raise PseudoLabelStoreError(
                f'{store.store_dir}: no image left: min_kept_fraction='
                f'{self.min_kept_fraction} and min_mean_confidence='
                f'{self.min_mean_confidence} keep none of its {len(store)} '
                f'images (largest kept fraction {most:.4g}, highest mean '
                f'confidence {best:.4g}; the teacher labeled with '
                f'prob_thr={store.meta.get("prob_thr")}). Lower the '
                'filters, or label again with a lower --prob-thr or a '
                'better teacher.')
        return data_list
