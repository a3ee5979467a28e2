# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The data infos of a pseudo-label store's kept images, built on access.

Zoph et al. 2020 (Sec. 3) label an unlabeled set of ImageNet size (1.28M
images): :class:`StoreDataInfos` is what
:class:`~.dataset.PseudoLabelDataset` returns from mmengine's
``load_data_list`` / ``filter_data`` and keeps as its ``data_list``: a
read-only sequence over an index array of store images (8 bytes per image)
whose items, ``CocoDataset``-format data infos, are built when read
(:func:`coco_data_info`). A list of 1.28M dicts would take minutes and
gigabytes per dataloader worker, which is what the store exists to avoid.
"""
import os.path as osp
from collections.abc import Sequence as SequenceABC
from typing import Sequence, Union

import numpy as np

from .keep_rule import keep_rule

__all__ = ['StoreDataInfos', 'coco_data_info', 'kept_boxes']


def kept_boxes(dataset, store_index: int):
    """The store record of image ``store_index`` and the
    :func:`~.keep_rule.keep_rule` mask of its boxes under ``dataset``'s
    label table and threshold."""
    rec = dataset.store.image(store_index)
    hw = np.broadcast_to(
        np.array([rec['height'], rec['width']]), (len(rec['boxes']), 2))
    verdict = keep_rule(rec['boxes'], hw, rec['scores'], rec['labels'],
                        dataset.label_lut, dataset.score_thr)
    return rec, verdict.keep


def coco_data_info(dataset, store_index: int) -> dict:
    """The ``CocoDataset``-format data info of store image ``store_index``:
    ``img_path``, ``img_id``, ``seg_map_path``, ``height``, ``width`` and
    ``instances`` (kept boxes only, each with the teacher's ``score`` and,
    in a store with masks, its RLE ``mask``)."""
    rec, keep = kept_boxes(dataset, store_index)
    file_name = rec['path']
    info = dict(
        img_path=osp.join(dataset.img_root(), file_name),
        img_id=rec['image_id'],
        seg_map_path=None,
        height=rec['height'],
        width=rec['width'])
    if dataset.data_prefix.get('seg', None):
        info['seg_map_path'] = osp.join(
            dataset.data_prefix['seg'],
            file_name.rsplit('.', 1)[0] + dataset.seg_map_suffix)
    if dataset.return_classes:
        info['text'] = dataset.metainfo['classes']
        info['caption_prompt'] = dataset.caption_prompt
        info['custom_entities'] = True
    labels = dataset.label_lut[rec['labels']]
    instances = []
    for j in np.flatnonzero(keep):
        inst = dict(
            ignore_flag=0,
            bbox=[float(v) for v in rec['boxes'][j]],
            bbox_label=int(labels[j]),
            score=float(rec['scores'][j]))  # the teacher's score
        if rec['masks_rle'] is not None:
            inst['mask'] = dict(
                size=[rec['height'], rec['width']], counts=rec['masks_rle'][j])
        instances.append(inst)
    info['instances'] = instances
    return info


class StoreDataInfos(SequenceABC):
    """Read-only sequence of the data infos of store images ``indices``.

    Args:
        dataset (PseudoLabelDataset): Reads the store, label table,
            threshold and image root.
        indices (np.ndarray): Store indexes of the items, in order.
    """

    def __init__(self, dataset, indices: np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.subset(idx)
        return coco_data_info(self.dataset, int(self.indices[idx]))

    def subset(
        self, which: Union[int, slice, Sequence[int],
                           np.ndarray]) -> 'StoreDataInfos':
        """The items ``which`` (mmengine's ``indices`` semantics for an int:
        the first ones, or the last ones if negative) as a new sequence."""
        if isinstance(which, (int, np.integer)):
            which = slice(None, which) if which >= 0 else slice(which, None)
        elif not isinstance(which, slice):
            which = np.asarray(list(which), dtype=np.int64)
        return StoreDataInfos(self.dataset, self.indices[which])

    def where(self, keep: np.ndarray) -> 'StoreDataInfos':
        """The items whose entry of the boolean mask ``keep`` is True."""
        return StoreDataInfos(self.dataset, self.indices[keep])
