"""``PseudoLabelDataset``: a pseudo-label store served as an mmdet dataset.

Zoph et al. 2020 (Sec. 3): the student trains on the teacher's pseudo labels
of an unlabeled image set, re-thresholded by score. The store
(:mod:`rethink_mmdet.self_training.store`) keeps every box above its
``score_floor`` with its score, so one store serves several student
thresholds: the threshold, the teacher -> student class mapping and the box
validity rules are applied here, at load time.

At ImageNet scale (1.28M images, tens of millions of boxes) nothing is
materialised per image at load: one vectorised pass over the columns
(:mod:`.store_scan`) yields the index array of the kept images, and
:meth:`PseudoLabelDataset.get_data_info` builds the data info of one image
on demand, in the same format as mmdet's ``CocoDataset`` (so mmdet
pipelines, samplers, evaluators and detectors take it unchanged). Both
apply one function, :func:`~.keep_rule.keep_rule`. The class map
(:mod:`.class_map`) and the image check (:mod:`.image_check`) live beside
it.

**A lazy index instead of a list.** Of mmengine's ``BaseDataset`` loading
steps the dataset overrides only ``full_init``: the pass applies the keep
rule, ``filter_cfg`` and ``indices`` and keeps only the index array of the
kept images (8 bytes per image; memory stays a few tens of MB for any
store size). A list of 1.28M data-info dicts would take minutes and
gigabytes per dataloader worker, which is what the store exists to avoid.
Every public reader still sees every sample: ``len(ds)``, ``ds[i]``,
``ds.get_data_info(i)``, ``ds.data_list`` (a read-only sequence whose
items are built on access) and ``ds.load_data_list()`` (a real list, built
in full on request: slow at ImageNet scale) agree item by item.
``serialize_data`` has nothing to do. Dataloader workers share the store's
pages; a pickled dataset carries no column and re-opens the store lazily.
"""
import copy
import os.path as osp
from collections.abc import Sequence as SequenceABC
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset.base_dataset import force_full_init

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from .class_map import student_label_lut
from .image_check import check_image_files
from .keep_rule import keep_rule
from .store import META_FILE, PseudoLabelStore
from .store_checks import check_masks, check_score_thr, no_image_left
from .store_scan import log_scan, scan_store


class _DataInfos(SequenceABC):
    """``PseudoLabelDataset.data_list``: a read-only sequence whose items
    are built on access by ``get_data_info`` (nothing stored per image)."""

    def __init__(self, dataset):
        self._dataset = dataset

    def __len__(self):
        return len(self._dataset)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return [self[i] for i in range(*idx.indices(len(self)))]
        return self._dataset.get_data_info(idx)


@DATASETS.register_module()
class PseudoLabelDataset(BaseDetDataset):
    """Teacher pseudo labels from a pseudo-label store, as ``CocoDataset``
    data samples.

    A student config swaps ``CocoDataset`` for this class (same pipeline)::

        dict(type='PseudoLabelDataset', store='work_dirs/pl_store',
             score_thr=0.5, data_root='data/imagenet/',
             data_prefix=dict(img='train/'), pipeline=train_pipeline)

    Each item of :meth:`get_data_info` has the keys ``CocoDataset`` gives:
    ``img_path``, ``img_id``, ``seg_map_path``, ``height``, ``width``,
    ``instances`` (``bbox`` [x1, y1, x2, y2], ``bbox_label`` in the student's
    classes, ``ignore_flag`` 0 and, if the store has masks, ``mask`` as a
    compressed RLE dict ``{'size': [h, w], 'counts': str}`` that
    ``LoadAnnotations(with_mask=True)`` decodes) and ``sample_idx``.

    Boxes kept: ``score >= score_thr``, of a teacher class mapped to a
    student class, and valid. Invalid boxes (NaN/inf coordinate or
    non-positive width or height) are **dropped and counted**: a warning
    gives their number and the first records (box index, image index, path);
    training on a mostly-good store is not refused for a few broken boxes.
    Boxes ``CocoDataset`` would drop as well (width or height below 1 pixel,
    or outside the image) are dropped and counted in the load summary.
    Unlike ``CocoDataset``, an empty mask does not drop its box.

    Args:
        store (str): The pseudo-label store directory (with ``meta.json``).
            Relative paths are joined with ``data_root``, like ``ann_file``.
        score_thr (float): Keep boxes with ``score >= score_thr``. Must be
            ``>=`` the store's ``score_floor`` (the store holds no box below
            its floor). Defaults to 0.5 (Zoph et al. 2020).
        class_map (dict, optional): Teacher class name -> student class name
            (several teacher classes may map to one student class; a value
            of None drops the class). Teacher classes absent from the map are
            dropped; every value must be a student class
            (``metainfo['classes']``, which must then be given). None
            requires the teacher classes to equal the student's classes
            (name and order); without ``metainfo['classes']`` the student
            classes are the teacher's. Defaults to None.
        keep_empty (bool): Keep images left with no box after thresholding
            and mapping (they become negatives: all anchors background).
            False drops them. Defaults to False.
        check_files (bool | int): Verify at load that the image files of the
            kept images exist. True checks all of them, an int ``n`` checks
            ``n`` evenly spaced ones, False or 0 checks none
            (:mod:`.image_check`: about 8 s per million images on a local
            file system with a warm cache; with non-local ``backend_args``
            one request per file, so use an int there). Defaults to True.
        data_root (str): Root joined with ``store`` and
            ``data_prefix['img']`` if those are relative. Defaults to ''.
        data_prefix (dict): ``img``: folder joined with the store's relative
            image paths (absolute paths are used as they are). If it and
            ``data_root`` are both empty, the store's ``meta['source']
            ['root']`` is used. ``seg``: as in ``CocoDataset``. Defaults to
            ``dict(img='')``.
        filter_cfg (dict, optional): As in ``CocoDataset``, applied only
            when ``test_mode`` is False: ``filter_empty_gt`` (True conflicts
            with ``keep_empty=True``) and ``min_size`` (minimum of image
            height and width). Defaults to None.
        indices (int | Sequence[int], optional): Keep only these of the
            images left after filtering (an int: the first ones, or the last
            ones if negative). Defaults to None.
        **kwargs: The other arguments of
            :class:`mmdet.datasets.BaseDetDataset` (``metainfo``,
            ``pipeline``, ``test_mode``, ``lazy_init``, ``serialize_data``
            (no effect), ``max_refetch``, ``backend_args``,
            ``return_classes``, ``caption_prompt``). ``ann_file`` and
            ``proposal_file`` are not accepted.

    Raises:
        PseudoLabelStoreError: Naming the file and record, for a missing or
            incomplete store, a wrong format or version, labels outside the
            teacher classes, class names that do not match, a threshold
            below the store's floor, a filtering that leaves no image, or
            missing image files.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 store: str,
                 score_thr: float = 0.5,
                 class_map: Optional[dict] = None,
                 keep_empty: bool = False,
                 check_files: Union[bool, int] = True,
                 lazy_init: bool = False,
                 **kwargs) -> None:
        for key in ('ann_file', 'proposal_file'):
            if kwargs.get(key):
                raise ValueError(
                    f'PseudoLabelDataset takes no {key}={kwargs[key]!r}: the '
                    'pseudo labels come from `store` (a pseudo-label store '
                    'directory, see rethink_mmdet.self_training.store)')
            kwargs.pop(key, None)
        kwargs.setdefault('data_prefix', dict(img=''))
        self.score_thr = float(score_thr)
        self.class_map = None if class_map is None else dict(class_map)
        self.keep_empty = bool(keep_empty)
        self.check_files = check_files
        self._store = None
        self._img_idx = np.zeros(0, np.int64)
        self._label_lut = np.zeros(0, np.int64)
        self.load_stats = {}
        # BaseDataset joins `ann_file` with data_root: reuse it for `store`.
        super().__init__(ann_file=str(store), lazy_init=True, **kwargs)
        self.store_dir = self.ann_file
        self._meta_file = osp.join(self.store_dir, META_FILE)
        self._check_meta()
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------------
    # the store, opened lazily (pickles carry no column)
    # ------------------------------------------------------------------
    @property
    def store(self) -> PseudoLabelStore:
        """The opened :class:`PseudoLabelStore` (re-opened after
        unpickling)."""
        if self._store is None:
            self._store = PseudoLabelStore(self.store_dir)
        return self._store

    @property
    def store_meta(self) -> dict:
        """The store's ``meta.json`` (teacher, source, score floor...)."""
        return self.store.meta

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_store'] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ------------------------------------------------------------------
    # metadata: threshold, classes, image root
    # ------------------------------------------------------------------
    def _check_meta(self):
        """Validate threshold and classes against ``meta.json``; sets the
        student classes and the teacher label -> student label table."""
        check_score_thr(self.score_thr, self.store.meta, self._meta_file)
        student, self._label_lut = student_label_lut(
            self.store.classes, self._metainfo.get('classes'), self.class_map,
            self._meta_file, self.store_dir)
        self._metainfo['classes'] = student

    def _img_root(self) -> str:
        prefix = self.data_prefix.get('img', '')
        if not prefix:
            prefix = (self.store.meta.get('source') or {}).get('root') or ''
        return prefix

    # ------------------------------------------------------------------
    # loading: one vectorised pass, no per-image object
    # ------------------------------------------------------------------
    @property
    def data_list(self) -> Sequence[dict]:
        """Every data info, built on access (see the class docstring)."""
        return _DataInfos(self)

    @data_list.setter
    def data_list(self, value) -> None:
        if len(value):  # BaseDataset.__init__ assigns []
            raise AttributeError(
                'PseudoLabelDataset.data_list is built from the store on '
                'access and cannot be assigned; use get_subset_ to select '
                'images')

    def full_init(self) -> None:
        """Index the kept images: one vectorised pass over the store, then
        ``filter_cfg`` and ``indices``. Replaces ``BaseDataset.full_init``'s
        list of data infos by an index array (see the class docstring)."""
        if self._fully_initialized:
            return
        check_masks(self.store.meta, self.pipeline, self._meta_file)
        counts = self._count_kept_boxes()
        idx = np.arange(len(counts), dtype=np.int64)
        if not self.keep_empty:
            idx = idx[counts > 0]
        idx = self._apply_filter_cfg(idx, counts)
        if self._indices is not None:
            idx = self._subset(idx, self._indices)
        self._img_idx = idx
        if not len(idx):
            raise no_image_left(self)
        check_image_files(self.store, idx, self.check_files, self._img_root(),
                          self.backend_args, self._meta_file)
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        """Every data info as a list, as ``BaseDataset`` promises (built in
        full: slow and large at ImageNet scale; :meth:`full_init` does not
        use it).

        Returns:
            list[dict]: ``[self.get_data_info(i) for i in range(len(self))]``.
        """
        return list(self.data_list)

    def _count_kept_boxes(self) -> np.ndarray:
        """:func:`~.store_scan.scan_store` with this dataset's classes and
        threshold; the statistics go to ``self.load_stats`` and the log.

        Returns:
            np.ndarray: (N,) number of kept boxes of every store image.
        """
        scan = scan_store(self.store, self._label_lut, self.score_thr)
        self.load_stats = scan.stats
        log_scan(scan, self.store_dir, self.score_thr)
        return scan.counts

    def _apply_filter_cfg(self, idx: np.ndarray,
                          counts: np.ndarray) -> np.ndarray:
        """Apply ``filter_cfg`` (as ``CocoDataset``, not in ``test_mode``).

        Args:
            idx (np.ndarray): Store indexes of the candidate images.
            counts (np.ndarray): (N,) kept boxes of every store image.

        Returns:
            np.ndarray: The kept image indexes.
        """
        if self.test_mode or not self.filter_cfg:
            return idx
        if self.filter_cfg.get('filter_empty_gt', False):
            if self.keep_empty:
                raise ValueError(
                    f'PseudoLabelDataset {self.store_dir}: keep_empty=True '
                    'but filter_cfg.filter_empty_gt=True would drop the '
                    'empty images again; set filter_cfg=dict('
                    'filter_empty_gt=False, ...) or keep_empty=False')
            idx = idx[counts[idx] > 0]
        min_size = self.filter_cfg.get('min_size', 0)
        if min_size:
            hw = np.asarray(self.store.image_hw)[idx]
            idx = idx[hw.min(axis=1) >= min_size]
        return idx

    @staticmethod
    def _subset(idx: np.ndarray, indices: Union[int, Sequence[int]]):
        if isinstance(indices, int):
            return idx[:indices] if indices >= 0 else idx[indices:]
        return idx[np.asarray(list(indices), dtype=np.int64)]

    # ------------------------------------------------------------------
    # per-image access
    # ------------------------------------------------------------------
    @force_full_init
    def __len__(self) -> int:
        return len(self._img_idx)

    @force_full_init
    def image_hw(self) -> np.ndarray:
        """Original ``(height, width)`` of every item, an ``(N, 2)`` int
        array read from the store's ``image_hw`` column in one call (what
        aspect-ratio grouping needs, without building N data infos)."""
        return np.asarray(self.store.image_hw)[self._img_idx]

    def _kept(self, idx: int):
        """Store index, record and :func:`keep_rule` mask of item ``idx``."""
        i = int(self._img_idx[idx])
        rec = self.store.image(i)
        hw = np.broadcast_to(
            np.array([rec['height'], rec['width']]), (len(rec['boxes']), 2))
        verdict = keep_rule(rec['boxes'], hw, rec['scores'], rec['labels'],
                            self._label_lut, self.score_thr)
        return i, rec, verdict.keep

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The ``CocoDataset``-format data info of image ``idx``, built from
        the memory-mapped columns.

        Args:
            idx (int): Index in the dataset (after filtering).

        Returns:
            dict: ``img_path``, ``img_id``, ``seg_map_path``, ``height``,
            ``width``, ``instances`` and ``sample_idx``.
        """
        i, rec, keep = self._kept(idx)
        file_name = rec['path']
        info = dict(
            img_path=osp.join(self._img_root(), file_name),
            img_id=rec['image_id'],
            seg_map_path=None,
            height=rec['height'],
            width=rec['width'])
        if self.data_prefix.get('seg', None):
            info['seg_map_path'] = osp.join(
                self.data_prefix['seg'],
                file_name.rsplit('.', 1)[0] + self.seg_map_suffix)
        if self.return_classes:
            info['text'] = self.metainfo['classes']
            info['caption_prompt'] = self.caption_prompt
            info['custom_entities'] = True
        labels = self._label_lut[rec['labels']]
        instances = []
        for j in np.flatnonzero(keep):
            inst = dict(
                ignore_flag=0,
                bbox=[float(v) for v in rec['boxes'][j]],
                bbox_label=int(labels[j]))
            inst['score'] = float(rec['scores'][j])  # the teacher's score
            if rec['masks_rle'] is not None:
                inst['mask'] = dict(
                    size=[rec['height'], rec['width']],
                    counts=rec['masks_rle'][j])
            instances.append(inst)
        info['instances'] = instances
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return info

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """Student labels of the kept boxes of image ``idx`` (for
        ``ClassBalancedDataset`` and class-aware samplers)."""
        _, rec, keep = self._kept(idx)
        return [int(v) for v in self._label_lut[rec['labels'][keep]]]

    @force_full_init
    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """Keep only ``indices`` of the current items (in place)."""
        self._img_idx = self._subset(self._img_idx, indices)

    @force_full_init
    def get_subset(self, indices: Union[Sequence[int], int]):
        """A copy holding only ``indices`` of the current items."""
        other = copy.deepcopy(self)  # cheap: no column in the state
        other.get_subset_(indices)
        return other
