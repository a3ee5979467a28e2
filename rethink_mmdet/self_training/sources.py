"""Where each training image comes from: human labels or pseudo labels.

Zoph et al. 2020, Sec. 3 (self-training): the student optimizes the loss on
the human labels and the loss on the teacher's pseudo labels *jointly*,
every batch holding both (50% human / 50% pseudo images [U]). So that a
student can split a batch into its human and pseudo parts, every sample
carries its source name in its metainfo, under :data:`SOURCE_KEY`::

    data_sample.metainfo['data_source']  # 'human', 'pseudo', ...

The name is configuration, not code: :class:`MultiSourceDataset` (a
``ConcatDataset`` with one name per sub-dataset) writes it into every data
info before the sub-dataset's own pipeline runs (by :class:`SetDataSource`),
and :class:`PackStudentInputs` (``PackDetInputs`` with ``data_source`` in its
meta keys, and the pseudo boxes' teacher scores packed as
``gt_instances.scores``) keeps it in the packed sample. Batches with a fixed
share of each source come from
:class:`~rethink_mmdet.self_training.sampler.MixedSourceSampler`.
"""
from typing import List, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset, Compose
from mmengine.dataset import ConcatDataset as _ConcatDataset
from mmengine.structures import BaseDataElement

from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import DATASETS, TRANSFORMS
from rethink_mmdet.augment.instances import SCORE_KEY

# metainfo key of a sample's source name (data info and DetDataSample)
SOURCE_KEY = 'data_source'
# the standard source names
HUMAN = 'human'
PSEUDO = 'pseudo'
# PackDetInputs' default meta keys plus the source name
STUDENT_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                     'scale_factor', 'flip', 'flip_direction', SOURCE_KEY)


@TRANSFORMS.register_module()
class SetDataSource(BaseTransform):
    """Write the sample's source name into the results.

    :class:`MultiSourceDataset` puts one in front of every sub-dataset's
    pipeline; it is registered so that it shows in the pipeline's repr and
    can be written by hand in a pipeline of a dataset used on its own.

    Added Keys:

    - data_source (str)

    Args:
        source (str): The source name, e.g. ``'human'`` or ``'pseudo'``.
    """

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source:
            raise ValueError(
                f'SetDataSource: source must be a non-empty string, got '
                f'{source!r}')
        self.source = source

    def transform(self, results: dict) -> dict:
        results[SOURCE_KEY] = self.source
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(source={self.source!r})'


@TRANSFORMS.register_module()
class PackStudentInputs(PackDetInputs):
    """``PackDetInputs`` for a self-training student: keeps the source name
    and packs the pseudo boxes' teacher scores.

    ``PackDetInputs`` keeps only the meta keys it lists and the annotation
    keys of its ``mapping_table``; this subclass adds ``data_source`` to the
    default meta keys and ``gt_scores`` -> ``gt_instances.scores`` (split by
    ``gt_ignore_flags`` like the boxes).

    Required Keys:

    - img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, ... (as
      ``PackDetInputs``)
    - gt_scores (np.float32, optional): one teacher score per box in
      ``gt_bboxes``.

    Added Keys:

    - inputs, data_samples (as ``PackDetInputs``); the data sample's
      ``gt_instances.scores`` (torch.float32) if ``gt_scores`` is present,
      and ``metainfo['data_source']``.

    Args:
        meta_keys (Sequence[str]): Keys copied into the data sample's
            metainfo. Defaults to :data:`STUDENT_META_KEYS` (those of
            ``PackDetInputs`` and ``data_source``).
    """

    mapping_table = dict(PackDetInputs.mapping_table, **{SCORE_KEY: 'scores'})

    def __init__(self, meta_keys: Sequence[str] = STUDENT_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        if SCORE_KEY in results:
            scores = np.asarray(results[SCORE_KEY], dtype=np.float32)
            num_boxes = len(results['gt_bboxes']) if 'gt_bboxes' in \
                results else None
            if scores.ndim != 1 or scores.shape[0] != num_boxes:
                raise ValueError(
                    f'PackStudentInputs: {SCORE_KEY} has shape '
                    f'{scores.shape} but there are {num_boxes} gt_bboxes '
                    f'({results.get("img_path")}): a transform dropped or '
                    f'added boxes without {SCORE_KEY}. Filter and crop with '
                    'transforms that keep the score column in step.')
            results[SCORE_KEY] = scores
        return super().transform(results)


def _pipeline_of(dataset) -> Compose:
    """The ``Compose`` pipeline of a dataset or of the dataset a wrapper
    (``RepeatDataset``, ``ClassBalancedDataset``...) holds."""
    obj = dataset
    while obj is not None:
        pipeline = getattr(obj, 'pipeline', None)
        if isinstance(pipeline, Compose):
            return pipeline
        obj = getattr(obj, 'dataset', None)
    raise TypeError(
        f'MultiSourceDataset: {type(dataset).__name__} has no `pipeline` '
        '(mmengine Compose) to tag with its source name; wrap datasets '
        'derived from mmengine BaseDataset')


@DATASETS.register_module()
class MultiSourceDataset(_ConcatDataset):
    """A ``ConcatDataset`` whose sub-datasets are named sources.

    Every data info (``get_data_info`` and the dict each sub-dataset's
    pipeline starts from) gets ``data_source`` = the sub-dataset's name, so
    the packed sample's ``metainfo['data_source']`` tells the student which
    part of the batch it belongs to (the pipeline must end with
    :class:`PackStudentInputs`, or keep ``data_source`` in its meta keys:
    a sample without it raises). Each sub-dataset keeps its own pipeline::

        dataset=dict(
            type='MultiSourceDataset',
            sources=['human', 'pseudo'],
            datasets=[
                dict(type='CocoDataset', ..., pipeline=human_pipeline),
                dict(type='PseudoLabelDataset', ..., pipeline=pl_pipeline)])

    Names may repeat (two pseudo-label sets both tagged ``'pseudo'``);
    :class:`~rethink_mmdet.self_training.sampler.MixedSourceSampler` gives
    each sub-dataset its own share of a batch all the same.

    Args:
        datasets (Sequence[BaseDataset | dict]): The sub-datasets (configs
            are built with mmdet's ``DATASETS``).
        sources (Sequence[str]): One source name per sub-dataset, e.g.
            ``['human', 'pseudo']``.
        lazy_init (bool): As ``ConcatDataset``. Defaults to False.
        ignore_keys (Sequence[str] | str, optional): Metainfo keys allowed
            to differ between sub-datasets; all others (the classes) must be
            equal. Defaults to ``('palette', )`` (visualisation colours, which
            a ``PseudoLabelDataset`` does not define).
        exempt_sources (Sequence[str]): Source names whose sub-datasets'
            metainfo is neither compared with the others' nor the
            dataset's metainfo: the classification images of joint training
            (:mod:`~.joint`), whose classes are ImageNet's, not the
            detector's. Defaults to ``()``.
    """

    def __init__(
        self,
        datasets: Sequence[Union[BaseDataset, dict]],
        sources: Sequence[str],
        lazy_init: bool = False,
        ignore_keys: Union[str, Sequence[str], None] = ('palette', ),
        exempt_sources: Sequence[str] = ()
    ) -> None:
        datasets = list(datasets)
        sources = list(sources)
        if len(sources) != len(datasets) or not datasets:
            raise ValueError(
                f'MultiSourceDataset: {len(datasets)} datasets but '
                f'{len(sources)} source names {sources}: give one name per '
                f'dataset, e.g. sources={[HUMAN, PSEUDO]}')
        bad = [s for s in sources if not isinstance(s, str) or not s]
        if bad:
            raise ValueError(
                f'MultiSourceDataset: source names must be non-empty '
                f'strings, got {bad}')
        datasets = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets
        ]
        if isinstance(ignore_keys, str):
            ignore_keys = [ignore_keys]
        if isinstance(exempt_sources, str):
            exempt_sources = [exempt_sources]
        exempt = set(exempt_sources)
        compared = [d for d, s in zip(datasets, sources) if s not in exempt]
        if exempt - set(sources) or not compared:
            raise ValueError(
                f'MultiSourceDataset: exempt_sources={list(exempt_sources)} '
                f'must name some of the sources {sources}, not all.')
        super().__init__(  # checks (and takes) the compared metainfo
            compared,
            lazy_init=True,
            ignore_keys=list(ignore_keys or []))
        self.datasets = datasets
        self.sources = sources
        seen = {}
        for i, (dataset, name) in enumerate(zip(self.datasets, sources)):
            pipeline = _pipeline_of(dataset)
            if id(pipeline) in seen:
                raise ValueError(
                    f'MultiSourceDataset: datasets {seen[id(pipeline)]} and '
                    f'{i} share one pipeline object, so they cannot carry '
                    'different source names; build each from its own config')
            seen[id(pipeline)] = i
            tag = SetDataSource(name)
            transforms = pipeline.transforms
            if transforms and isinstance(transforms[0], SetDataSource):
                transforms[0] = tag  # re-wrapped: re-tag, do not stack
            else:
                transforms.insert(0, tag)
        if not lazy_init:
            self.full_init()

    @property
    def source_sizes(self) -> List[int]:
        """Number of items of each sub-dataset."""
        self.full_init()
        ends = list(self.cumulative_sizes)
        return [e - s for s, e in zip([0] + ends[:-1], ends)]

    def source_of(self, idx: int) -> str:
        """The source name of item ``idx``."""
        return self.sources[self._get_ori_dataset_idx(idx)[0]]

    def get_data_info(self, idx: int) -> dict:
        """The sub-dataset's data info of item ``idx`` with its
        ``data_source``."""
        info = super().get_data_info(idx)
        info[SOURCE_KEY] = self.source_of(idx)
        return info

    def __getitem__(self, idx: int):
        data = super().__getitem__(idx)
        sample = data.get('data_samples') if isinstance(data, dict) else None
        if isinstance(sample, BaseDataElement):  # Det- or SegDataSample
            got = sample.metainfo.get(SOURCE_KEY)
            want = self.source_of(idx)
            if got != want:
                raise KeyError(
                    f'MultiSourceDataset: the packed sample of item {idx} '
                    f'(source {want!r}) has metainfo[{SOURCE_KEY!r}]={got!r}:'
                    ' the pipeline dropped the source name. End the '
                    "pipeline with dict(type='PackStudentInputs') or add "
                    f"{SOURCE_KEY!r} to the meta_keys of PackDetInputs "
                    '(PackSegInputs for a segmentation student).')
        return data
