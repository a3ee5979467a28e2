"""``PseudoLabelDataset``: a pseudo-label store served as an mmdet dataset.

Zoph et al. 2020 (Sec. 3): the student trains on the teacher's pseudo labels
of an unlabeled image set, re-thresholded by score. The store
(:mod:`rethink_mmdet.self_training.store`) keeps every box above its
``score_floor`` with its score, so one store serves several student
thresholds: the threshold, the teacher -> student class mapping and the box
validity rules are applied here, at load time.

At ImageNet scale (1.28M images, tens of millions of boxes) nothing is
materialised per image at load: one vectorised NumPy pass over the columns
(in blocks, read with plain file reads so the process does not keep the
pages mapped) yields the index array of the kept images, and
:meth:`PseudoLabelDataset.get_data_info` builds the data info of one image
on demand, in the same format as mmdet's ``CocoDataset`` (so mmdet pipelines,
samplers, evaluators and detectors take it unchanged). The keep rule is one
function, :func:`keep_rule`, used by both.
"""
import copy
import logging
import os
import os.path as osp
from collections.abc import Sequence as SequenceABC
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np
from mmengine.dataset.base_dataset import force_full_init
from mmengine.fileio import exists as fileio_exists
from mmengine.logging import print_log

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS
from .store import (BOXES, IMAGE_HW, LABELS, META_FILE, SCORES,
                    PseudoLabelStore, PseudoLabelStoreError)

# Boxes processed per block in the load-time pass (bounds its temporaries).
BLOCK_BOXES = 1 << 18
# How many offending records an error or warning lists.
NUM_LISTED = 5


def _plural(n, word, plural=None):
    return f'{n} ' + (word if n == 1 else plural or word + 's')


class BoxVerdict(NamedTuple):
    """What :func:`keep_rule` decided for each box (bool arrays, disjoint
    except ``keep``, which is the boxes none of the others caught)."""
    keep: np.ndarray
    invalid: np.ndarray  # NaN/inf coordinate or score, w <= 0 or h <= 0
    small: np.ndarray  # valid, but CocoDataset drops it (< 1 px, outside)
    unmapped: np.ndarray  # valid and big enough, class mapped to no student
    below_thr: np.ndarray  # valid, mapped, score < score_thr


def keep_rule(boxes, hw, scores, labels, label_lut, score_thr):
    """The one rule that decides which pseudo boxes a student sees.

    Used vectorised over the whole store at load and per image by
    :meth:`PseudoLabelDataset.get_data_info`, so both always agree.

    Args:
        boxes (np.ndarray): (k, 4) x1, y1, x2, y2.
        hw (np.ndarray): (k, 2) (height, width) of each box's image.
        scores (np.ndarray): (k,) teacher scores.
        labels (np.ndarray): (k,) teacher labels (valid indexes into
            ``label_lut``).
        label_lut (np.ndarray): Teacher label -> student label, -1 dropped.
        score_thr (float): Keep ``score >= score_thr``.

    Returns:
        BoxVerdict: ``keep`` and the reason of every other box.
    """
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    x1, y1, x2, y2 = boxes.T
    img_h, img_w = np.asarray(hw).astype(boxes.dtype, copy=False).T
    with np.errstate(invalid='ignore', over='ignore'):
        # widths in float64: exact for float32 coordinates, so the < 1 px
        # rule matches CocoDataset's (Python floats) to the last bit; a
        # non-finite coordinate makes w or h NaN or +-inf.
        w = np.subtract(x2, x1, dtype=np.float64)
        h = np.subtract(y2, y1, dtype=np.float64)
        invalid = ~((w > 0) & (w < np.inf) & (h > 0) & (h < np.inf)
                    & np.isfinite(scores))
        # mmdet CocoDataset.parse_data_info: drop w < 1, h < 1 and boxes
        # that do not intersect the image (intersection width <= 0 is
        # min(x2, W) <= max(x1, 0), compared without a subtraction).
        small = ~invalid & ((w < 1) | (h < 1)
                            | (np.minimum(x2, img_w) <= np.maximum(x1, 0))
                            | (np.minimum(y2, img_h) <= np.maximum(y1, 0)))
        good = ~(invalid | small)
        mapped = (label_lut >= 0)[labels]
        high = scores >= score_thr
    good_mapped = good & mapped
    return BoxVerdict(
        keep=good_mapped & high,
        invalid=invalid,
        small=small,
        unmapped=good & ~mapped,
        below_thr=good_mapped & ~high)


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

    **A lazy index instead of a list.** Of mmengine's ``BaseDataset``
    loading steps this class overrides only :meth:`full_init`: one
    vectorised pass over the columns (``BLOCK_BOXES`` boxes at a time, read
    into memory block by block, so memory stays a few tens of MB for any
    store size) applies :func:`keep_rule`, ``filter_cfg`` and ``indices``
    and keeps only the index array of the kept images (8 bytes per image).
    A list of 1.28M data-info dicts would take minutes and gigabytes per
    dataloader worker, which is what the store exists to avoid. Every public
    reader still sees every sample: ``len(ds)``, ``ds[i]``,
    ``ds.get_data_info(i)``, ``ds.data_list`` (a read-only sequence whose
    items are built on access) and ``ds.load_data_list()`` (a real list,
    built in full on request: slow at ImageNet scale) agree item by item.
    ``serialize_data`` has nothing to do. Dataloader workers share the
    store's pages; a pickled dataset carries no column and re-opens the
    store lazily.

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
            ``n`` evenly spaced ones, False or 0 checks none. On a local or
            network file system the check lists each image directory once
            (one ``os.scandir`` per directory, not one ``stat`` per image,
            which matters on NFS: ImageNet's 1,000 folders are 1,000
            listings); with a warm cache it costs about 8 s per million
            checked images on one core (decoding and joining the paths
            dominates). With non-local ``backend_args`` every checked file
            costs one ``exists`` request, so use an int there. Defaults to
            True.
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
        meta = self.store.meta  # format / version checked by the store
        floor = float(meta.get('score_floor', 0.0))
        if not np.isfinite(self.score_thr):
            raise PseudoLabelStoreError(
                f'{self._meta_file}: score_thr={self.score_thr} is not a '
                'finite number')
        if self.score_thr < floor:
            raise PseudoLabelStoreError(
                f'{self._meta_file}: score_thr={self.score_thr} is below the '
                f'store\'s score_floor {floor}: the store does not hold boxes '
                f'scoring below {floor}. Use score_thr >= {floor}, or '
                're-label with a lower floor (tools/pseudo_label.py).')
        teacher = tuple(self.store.classes)
        student = self._metainfo.get('classes')
        if student is None:
            if self.class_map is not None:
                raise PseudoLabelStoreError(
                    f'{self._meta_file}: class_map given but the student '
                    'classes are unknown; set metainfo=dict(classes=...) '
                    'to the student\'s class names')
            student = teacher
        student = tuple(student)
        self._metainfo['classes'] = student
        lut = np.full(len(teacher), -1, np.int64)
        if self.class_map is None:
            if teacher != student:
                only_t = [c for c in teacher if c not in student]
                only_s = [c for c in student if c not in teacher]
                detail = (f'teacher only: {only_t}; student only: {only_s}'
                          if only_t or only_s else
                          'same names in a different order')
                raise PseudoLabelStoreError(
                    f'{self._meta_file}: teacher classes {list(teacher)} do '
                    f'not match the student\'s metainfo classes '
                    f'{list(student)} ({detail}). Pass class_map='
                    '{teacher_name: student_name, ...} to map them by name.')
            lut[:] = np.arange(len(teacher))
        else:
            bad_keys = [k for k in self.class_map if k not in teacher]
            bad_vals = [
                v for v in self.class_map.values()
                if v is not None and v not in student
            ]
            if bad_keys or bad_vals:
                raise PseudoLabelStoreError(
                    f'{self._meta_file}: class_map names unknown classes: '
                    f'keys not in the teacher classes {list(teacher)}: '
                    f'{bad_keys}; values not in the student classes '
                    f'{list(student)}: {bad_vals}')
            for t, s in self.class_map.items():
                if s is not None:
                    lut[teacher.index(t)] = student.index(s)
            fed = set(lut.tolist())
            unfed = [c for i, c in enumerate(student) if i not in fed]
            dropped = [c for c, s in zip(teacher, lut) if s < 0]
            if unfed:
                print_log(
                    f'PseudoLabelDataset {self.store_dir}: no teacher class '
                    f'maps to student classes {unfed}; they get no pseudo '
                    'labels',
                    logger='current',
                    level=logging.WARNING)
            if dropped:
                print_log(
                    f'PseudoLabelDataset {self.store_dir}: teacher classes '
                    f'{dropped} are not in class_map; their boxes are dropped',
                    logger='current',
                    level=logging.INFO)
        self._label_lut = lut

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
        self._check_masks()
        counts = self._count_kept_boxes()
        idx = np.arange(len(counts), dtype=np.int64)
        if not self.keep_empty:
            idx = idx[counts > 0]
        idx = self._apply_filter_cfg(idx, counts)
        if self._indices is not None:
            idx = self._subset(idx, self._indices)
        self._img_idx = idx
        self._check_not_empty()
        if self.check_files:
            self._check_image_files()
        self._fully_initialized = True

    def _check_masks(self) -> None:
        """Refuse a pipeline that loads masks from a store without masks
        (a box-only teacher, e.g. RetinaNet, labeling for a Mask R-CNN
        student): mmdet's loader would fail at the first batch with a bare
        ``KeyError: 'mask'``."""
        if self.store.meta.get('has_masks', False):
            return
        wanted = [
            type(t).__name__ for t in getattr(self.pipeline, 'transforms', [])
            if getattr(t, 'with_mask', False)
        ]
        if wanted:
            teacher = self.store.meta.get('teacher') or {}
            raise ValueError(
                f'{self._meta_file}: the store holds boxes only (its '
                f'teacher: {teacher.get("config", "?")}, checkpoint '
                f'{teacher.get("checkpoint", "?")}), but the pipeline loads '
                f'masks ({", ".join(wanted)} with with_mask=True). Label the '
                'images with an instance-segmentation teacher (e.g. Mask '
                'R-CNN), or train a box-only student: with_mask=False and a '
                'detector without a mask head.')

    def load_data_list(self) -> List[dict]:
        """Every data info as a list, as ``BaseDataset`` promises (built in
        full: slow and large at ImageNet scale; :meth:`full_init` does not
        use it).

        Returns:
            list[dict]: ``[self.get_data_info(i) for i in range(len(self))]``.
        """
        return list(self.data_list)

    def _count_kept_boxes(self) -> np.ndarray:
        """Apply :func:`keep_rule` to every box, vectorised in blocks of
        about ``BLOCK_BOXES`` boxes (whole images per block).

        Returns:
            np.ndarray: (N,) number of kept boxes of every store image.
            Statistics go to ``self.load_stats`` and the log.
        """
        st = self.store
        n, m = len(st), int(st.meta['num_boxes'])
        offsets = np.asarray(st.box_offsets)
        counts = np.zeros(n, np.int64)
        totals = dict.fromkeys(BoxVerdict._fields[1:], 0)
        first_invalid = []
        max_score = -np.inf
        a = 0
        while a < n:
            b = int(
                np.searchsorted(
                    offsets, offsets[a] + BLOCK_BOXES, side='right')) - 1
            b = min(max(b, a + 1), n)
            local = offsets[a:b + 1] - offsets[a]  # box offsets in the block
            s, e = int(offsets[a]), int(offsets[b])

            def image_of(j):  # store image of the block's box j
                return a + int(np.searchsorted(local, j, side='right')) - 1

            labels = st.read_rows(LABELS, s, e)
            self._check_labels(labels, s, image_of)
            scores = st.read_rows(SCORES, s, e)
            boxes = st.read_rows(BOXES, s, e)
            hw = np.repeat(st.read_rows(IMAGE_HW, a, b), np.diff(local), 0)
            verdict = keep_rule(boxes, hw, scores, labels, self._label_lut,
                                self.score_thr)
            for key in totals:
                totals[key] += np.count_nonzero(getattr(verdict, key))
            max_score = np.max(
                scores,
                initial=max_score,
                where=verdict.keep | verdict.below_thr)
            for j in np.flatnonzero(verdict.invalid)[:NUM_LISTED -
                                                     len(first_invalid)]:
                first_invalid.append(
                    f'box {s + j} of image {image_of(j)} '
                    f'({st.path(image_of(j))!r}): {boxes[j].tolist()} '
                    f'score {float(scores[j]):.4g}')
            kept = np.zeros(e - s + 1, np.int64)
            np.cumsum(verdict.keep, out=kept[1:])
            counts[a:b] = kept[local[1:]] - kept[local[:-1]]
            a = b
        self._log_load(n, m, counts, totals, first_invalid, max_score)
        return counts

    def _check_labels(self, labels, first_box, image_of):
        """Refuse labels outside the teacher classes (a corrupt store)."""
        num_classes = len(self._label_lut)
        if not len(labels) or (labels.min() >= 0
                               and labels.max() < num_classes):
            return
        j = int(np.flatnonzero((labels < 0) | (labels >= num_classes))[0])
        i = image_of(j)
        raise PseudoLabelStoreError(
            f'{osp.join(self.store_dir, LABELS)}: box {first_box + j} '
            f'(image {i}, {self.store.path(i)!r}) has label '
            f'{int(labels[j])}, outside the {num_classes} classes of '
            f'{self._meta_file}')

    def _log_load(self, n, m, counts, totals, first_invalid, max_score):
        """Fill ``self.load_stats`` and log what the load pass dropped."""
        num_invalid = totals['invalid']
        self.load_stats = dict(
            num_images=n,
            num_boxes=m,
            num_kept_boxes=int(counts.sum()),
            num_invalid=num_invalid,
            num_small=totals['small'],
            num_below_thr=totals['below_thr'],
            num_unmapped=totals['unmapped'],
            num_empty_images=int((counts == 0).sum()),
            max_score=float(max_score) if np.isfinite(max_score) else None)
        if num_invalid:
            print_log(
                f'PseudoLabelDataset {self.store_dir}: dropped '
                f'{_plural(num_invalid, "invalid box", "invalid boxes")} '
                '(NaN/inf coordinate or score, or non-positive width/height);'
                ' first: ' + '; '.join(first_invalid),
                logger='current',
                level=logging.WARNING)
        print_log(
            f'PseudoLabelDataset {self.store_dir}: score_thr='
            f'{self.score_thr}: kept {counts.sum()} of {m} boxes '
            f'({totals["below_thr"]} below threshold, {totals["unmapped"]} '
            f'of unmapped classes, {totals["small"]} < 1 px or outside the '
            f'image, {num_invalid} invalid); {int((counts > 0).sum())} of '
            f'{n} images have boxes',
            logger='current',
            level=logging.INFO)

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

    def _check_not_empty(self):
        if len(self._img_idx):
            return
        s = self.load_stats
        best = None if s['max_score'] is None else f'{s["max_score"]:.4g}'
        raise PseudoLabelStoreError(
            f'{self._meta_file}: no image left: score_thr={self.score_thr}, '
            f'keep_empty={self.keep_empty}, filter_cfg={self.filter_cfg}, '
            f'indices={self._indices} leave none of the {s["num_images"]} '
            f'images ({s["num_kept_boxes"]} of {s["num_boxes"]} boxes kept; '
            f'highest score of a valid box of a mapped class: '
            f'{best}). Lower score_thr, check class_map, or set '
            'keep_empty=True.')

    def _check_image_files(self):
        idx = self._img_idx
        n = len(idx) if self.check_files is True else min(
            int(self.check_files), len(idx))
        if n <= 0:
            return
        pick = idx if n == len(idx) else idx[np.linspace(
            0,
            len(idx) - 1, n).round().astype(np.int64)]
        root = self._img_root()
        paths = [osp.join(root, self.store.path(int(i))) for i in pick]
        missing = []
        if self.backend_args is None or self.backend_args.get(
                'backend', 'local') == 'local':
            listed = {}
            for k, p in enumerate(paths):
                d, name = osp.split(p)
                if d not in listed:
                    try:
                        with os.scandir(d or '.') as it:
                            listed[d] = {e.name for e in it}
                    except OSError:
                        listed[d] = set()
                if name not in listed[d] and not osp.exists(p):
                    missing.append(k)
        else:
            missing = [
                k for k, p in enumerate(paths)
                if not fileio_exists(p, backend_args=self.backend_args)
            ]
        if missing:
            first = ', '.join(f'{paths[k]!r} (image {int(pick[k])})'
                              for k in missing[:NUM_LISTED])
            raise PseudoLabelStoreError(
                f'{self._meta_file}: {len(missing)} of {n} checked image '
                f'files are missing under image root {root!r}; first: '
                f'{first}. Point data_root / data_prefix.img at the folder '
                'the store\'s relative paths start from (store source: '
                f'{self.store.meta.get("source")}), or set check_files=False.')

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
