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

**mmengine's loading steps, on an index.** ``full_init`` runs
``BaseDataset``'s steps in its order: :meth:`~PseudoLabelDataset.
load_data_list` (the keep rule, one vectorised pass), ``filter_data``
(``filter_cfg``) and ``indices``; each returns a
:class:`~.store_infos.StoreDataInfos`, a read-only sequence over an index
array of store images (8 bytes per image) whose items are built on access,
so ``data_list``, ``len``, ``ds[i]``, ``get_data_info``, ``get_cat_ids``
and ``get_subset`` are ``BaseDataset``'s own. Serialization
(``serialize_data``) is always off: the index is already compact, and
serializing 1.28M data infos is what the store exists to avoid. Dataloader
workers share the store's pages; a pickled dataset carries no column and
re-opens the store lazily.
"""
import copy
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
from mmengine.dataset.base_dataset import force_full_init

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from .class_map import student_label_lut
from .image_check import check_image_files
from .store import META_FILE, PseudoLabelStore
from .store_checks import check_masks, check_score_thr, no_image_left
from .store_infos import StoreDataInfos
from .store_scan import log_scan, scan_store


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
            (always off, see the module docstring), ``max_refetch``,
            ``backend_args``, ``return_classes``, ``caption_prompt``).
            ``ann_file`` and ``proposal_file`` are not accepted.

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
        kwargs['serialize_data'] = False  # the index is already compact
        self.score_thr = float(score_thr)
        self.class_map = None if class_map is None else dict(class_map)
        self.keep_empty = bool(keep_empty)
        self.check_files = check_files
        self._store = None
        self.label_lut = np.zeros(0, np.int64)
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
        student, self.label_lut = student_label_lut(
            self.store.classes, self._metainfo.get('classes'), self.class_map,
            self._meta_file, self.store_dir)
        self._metainfo['classes'] = student

    def img_root(self) -> str:
        """The folder joined with the store's relative image paths."""
        prefix = self.data_prefix.get('img', '')
        if not prefix:
            prefix = (self.store.meta.get('source') or {}).get('root') or ''
        return prefix

    # ------------------------------------------------------------------
    # loading: mmengine's steps on an index array, no per-image object
    # ------------------------------------------------------------------
    def full_init(self) -> None:
        """``BaseDataset.full_init``'s steps (:meth:`load_data_list`,
        :meth:`filter_data`, ``indices``) on a
        :class:`~.store_infos.StoreDataInfos`, without serialization; then
        refuse an empty result and check the image files."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self.data_list.subset(self._indices)
        if not len(self.data_list):
            raise no_image_left(self)
        check_image_files(self.store, self.data_list.indices, self.check_files,
                          self.img_root(), self.backend_args, self._meta_file)
        self._fully_initialized = True

    def load_data_list(self) -> StoreDataInfos:
        """The images with a kept box (every image with ``keep_empty``):
        one vectorised pass over the store (:mod:`.store_scan`), whose
        statistics go to ``self.load_stats`` and the log.

        Returns:
            StoreDataInfos: The data infos, built on access.
        """
        check_masks(self.store.meta, self.pipeline, self._meta_file)
        scan = scan_store(self.store, self.label_lut, self.score_thr)
        self.load_stats = scan.stats
        log_scan(scan, self.store_dir, self.score_thr)
        infos = StoreDataInfos(self, np.arange(len(scan.counts)))
        return infos if self.keep_empty else infos.where(scan.counts > 0)

    def filter_data(self) -> StoreDataInfos:
        """Apply ``filter_cfg`` (as ``CocoDataset``, not in ``test_mode``):
        ``filter_empty_gt`` and ``min_size`` (of image height and width).

        Returns:
            StoreDataInfos: The kept data infos.
        """
        infos = self.data_list
        if self.test_mode or not self.filter_cfg:
            return infos
        if self.filter_cfg.get('filter_empty_gt', False) and self.keep_empty:
            # without keep_empty, load_data_list kept no empty image
            raise ValueError(
                f'PseudoLabelDataset {self.store_dir}: keep_empty=True but '
                'filter_cfg.filter_empty_gt=True would drop the empty images '
                'again; set filter_cfg=dict(filter_empty_gt=False, ...) or '
                'keep_empty=False')
        min_size = self.filter_cfg.get('min_size', 0)
        if min_size:
            hw = np.asarray(self.store.image_hw)[infos.indices]
            infos = infos.where(hw.min(axis=1) >= min_size)
        return infos

    @force_full_init
    def image_hw(self) -> np.ndarray:
        """Original ``(height, width)`` of every item, an ``(N, 2)`` int
        array read from the store's ``image_hw`` column in one call (what
        aspect-ratio grouping needs, without building N data infos)."""
        if isinstance(self.data_list, StoreDataInfos):
            return np.asarray(self.store.image_hw)[self.data_list.indices]
        return np.array([[x['height'], x['width']] for x in self.data_list],
                        dtype=np.int64).reshape(-1, 2)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """``BaseDataset.get_data_info`` without its deep copy: an item of a
        :class:`~.store_infos.StoreDataInfos` is built fresh on every read.

        Args:
            idx (int): Index in the dataset (after filtering).

        Returns:
            dict: ``img_path``, ``img_id``, ``seg_map_path``, ``height``,
            ``width``, ``instances`` and ``sample_idx``.
        """
        if not isinstance(self.data_list, StoreDataInfos):
            return super().get_data_info(idx)
        info = self.data_list[idx]
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return info

    @force_full_init
    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """Keep only ``indices`` of the current items (in place), as an
        index (``BaseDataset``'s would build a list of data infos)."""
        if not isinstance(self.data_list, StoreDataInfos):
            return super().get_subset_(indices)  # a list assigned by hand
        self.data_list = self.data_list.subset(indices)

    @force_full_init
    def get_subset(self, indices: Union[Sequence[int], int]):
        """A copy holding only ``indices`` of the current items."""
        other = copy.deepcopy(self)  # cheap: no column in the state
        other.get_subset_(indices)
        return other
