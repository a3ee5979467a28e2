# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The classification source of joint training (Zoph et al. 2020, Sec. 4.4).

Joint training puts classification images (ImageNet, or the shapes
classification stand-in) into the detection batches, as one source of a
:class:`~.sources.MultiSourceDataset`. Each such sample must be a
``DetDataSample`` (the detection data preprocessor pads and moves it with
the others) that carries its image-level label and its source name:

- :class:`PackJointClsInputs`: ``PackStudentInputs`` (``data_source`` in the
  metainfo) that also packs ``gt_label`` (int) as ``data_sample.gt_label``,
  an int64 tensor of shape (1, ), as mmpretrain's ``DataSample`` does.
  ``PackDetInputs`` keeps only its ``mapping_table`` and ``meta_keys``, so
  the label would be dropped without it.
- :class:`ImageFolderClsDataset`: the ImageNet train folder layout
  (``train/<wnid>/<image>.JPEG``, the torchvision ``ImageFolder`` /
  mmpretrain ``CustomDataset`` convention) as an mmengine ``BaseDataset``,
  for installations without mmpretrain. The shapes stand-in is
  :class:`~rethink_mmdet.data.shapes_cls_dataset.ShapesClsDataset`.

A classification pipeline ends with ``LoadEmptyAnnotations`` (mmdet:
empty ``gt_bboxes`` / ``gt_bboxes_labels``, ``gt_masks`` with
``with_mask=True``, which a Mask R-CNN data preprocessor pads) and
:class:`PackJointClsInputs`, e.g.
``configs/_base_/datasets/imagenet_joint.py``.
"""
import operator
import os
import os.path as osp
from typing import List

import torch
from mmengine.dataset import BaseDataset

from mmdet.registry import DATASETS, TRANSFORMS
from .image_list import IMAGE_EXTENSIONS
from .sources import SOURCE_KEY, PackStudentInputs

__all__ = [
    'CLS_LABEL_KEY', 'JOINT_CLS_META_KEYS', 'PackJointClsInputs',
    'ImageFolderClsDataset'
]

#: Results key and data-sample field of the image-level label.
CLS_LABEL_KEY = 'gt_label'
#: ``PackStudentInputs``' meta keys without ``img_id`` (classification
#: images have none).
JOINT_CLS_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'scale_factor',
                       'flip', 'flip_direction', SOURCE_KEY)


@TRANSFORMS.register_module()
class PackJointClsInputs(PackStudentInputs):
    """Pack a classification image of joint training as a ``DetDataSample``
    with its image-level label and source name.

    Required Keys:

    - img
    - gt_label (int)
    - the ``meta_keys`` (``scale_factor`` comes from a ``Resize``-like
      transform, ``flip`` / ``flip_direction`` from ``RandomFlip``)

    Added Keys:

    - inputs, data_samples (as ``PackStudentInputs``); the data sample's
      ``gt_label`` (torch.int64, shape (1, )) and
      ``metainfo['data_source']``.

    Args:
        meta_keys (Sequence[str]): Keys copied into the data sample's
            metainfo. Defaults to :data:`JOINT_CLS_META_KEYS`.
    """

    def __init__(self, meta_keys=JOINT_CLS_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        try:  # an int or a numpy integer
            label = operator.index(results.get(CLS_LABEL_KEY))
        except TypeError:
            raise KeyError(
                f'PackJointClsInputs: {results.get("img_path")} has no int '
                f'{CLS_LABEL_KEY!r} (got {results.get(CLS_LABEL_KEY)!r}): '
                'use it on a classification dataset (ShapesClsDataset, '
                'ImageFolderClsDataset) whose data infos carry the label.'
            ) from None
        packed = super().transform(results)
        packed['data_samples'].set_data(
            {CLS_LABEL_KEY: torch.tensor([label], dtype=torch.int64)})
        return packed


@DATASETS.register_module()
class ImageFolderClsDataset(BaseDataset):
    """Images in one folder per class, labelled by the class folder.

    ``data_root/data_prefix['img_path']/<class>/<file>`` (ImageNet's train
    folder: ``data/imagenet/train/n01440764/n01440764_10026.JPEG``); the
    classes are the sorted folder names unless ``metainfo=dict(classes=
    [...])`` names them (then every folder must be one of them), and the
    label of an image is its folder's index among the classes. Files with
    one of :data:`~.image_list.IMAGE_EXTENSIONS` are listed, sorted, without
    opening them (no image size in the data infos).

    Data info: ``img_path`` (str), ``gt_label`` (int).

    Args:
        data_root (str): Defaults to ''.
        data_prefix (dict): ``img_path``: the class folders' parent,
            relative to ``data_root``. Defaults to ``dict(img_path='')``.
        **kwargs: Other keys of :class:`mmengine.dataset.BaseDataset`
            (``pipeline``, ``metainfo``, ``indices``, ``serialize_data``,
            ``lazy_init``...). ``ann_file`` is not read.
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        """List ``<class>/<file>`` below the image folder.

        Raises:
            FileNotFoundError: No such folder, or no class folder with an
                image in it.
            ValueError: A folder not among ``metainfo['classes']``.
        """
        root = self.data_prefix.get('img_path', '')
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'ImageFolderClsDataset: no folder {root!r} (data_root + '
                "data_prefix['img_path']): expected one sub-folder of images "
                'per class, as data/imagenet/train/<wnid>/*.JPEG.')
        folders = sorted(e.name for e in os.scandir(root) if e.is_dir())
        classes = self._metainfo.get('classes')
        if classes is None:
            classes = folders
        else:
            classes = list(classes)
            stray = sorted(set(folders) - set(classes))
            if stray:
                raise ValueError(
                    f'ImageFolderClsDataset: folders {stray[:5]} of {root!r} '
                    'are not among metainfo classes; remove them or list '
                    'them in metainfo=dict(classes=[...]).')
        index = {name: i for i, name in enumerate(classes)}
        data_list = []
        for name in folders:
            folder = osp.join(root, name)
            files = sorted(
                e.name for e in os.scandir(folder) if e.is_file()
                and osp.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS)
            data_list.extend(
                dict(img_path=osp.join(folder, f), gt_label=index[name])
                for f in files)
        if not data_list:
            raise FileNotFoundError(
                f'ImageFolderClsDataset: no image ({IMAGE_EXTENSIONS}) in a '
                f'class folder of {root!r}.')
        self._metainfo['classes'] = tuple(classes)
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """``[gt_label]`` of image ``idx`` (for class-aware samplers)."""
        return [self.get_data_info(idx)[CLS_LABEL_KEY]]
