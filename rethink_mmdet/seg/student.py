# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The self-training student around any MMSegmentation segmentor.

Zoph et al. 2020, Sec. 3.2 (PASCAL VOC 2012 segmentation) and App. B: the
student trains on the human label maps and the teacher's pseudo label maps
(pixels whose averaged teacher probability is below 0.5 carry the ignore
label) jointly, with the pseudo loss normalized by the ratio of the moving
averages, ``L = 1/(1+a) (L_h + a Lbar_h / Lbar_p L_p)`` (decay 0.9997;
``a = 1.0`` for segmentation). :class:`SelfTrainingSegmentor` is the
segmentation twin of the detection student
(:class:`~rethink_mmdet.self_training.student.SelfTrainingDetector`): the
split by ``metainfo['data_source']``, the combination, the logged items and
the checkpoint keys are theirs in common
(:class:`~rethink_mmdet.self_training.student_base.SelfTrainingStudentMixin`);
the per-part losses are the segmentor's (:mod:`.part_forward`).
"""
import copy
import logging
from typing import Dict, List, Optional

from mmengine.logging import print_log
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from torch import Tensor, nn

from rethink_mmdet.self_training.loss_norm import HUMAN_TERM, PSEUDO_TERM
from rethink_mmdet.self_training.part_forward import (PER_PART,
                                                      resolve_part_forward,
                                                      slice_batch)
from rethink_mmdet.self_training.sources import SOURCE_KEY
from rethink_mmdet.self_training.student_base import (SelfTrainingStudentMixin,
                                                      check_source_terms)
from .part_forward import (SHARED_COMPOSITION, seg_shares_features,
                           shared_feature_losses)

__all__ = [
    'SEGMENTOR_KEY', 'DEFAULT_IGNORE_INDEX', 'SEG_STUDENT_META_KEYS',
    'SEG_PACK_HINT', 'SelfTrainingSegmentor'
]

#: Attribute of the inner segmentor; stripped from ``state_dict`` keys.
SEGMENTOR_KEY = 'segmentor'
#: mmseg's ignore label (``BaseDecodeHead(ignore_index=255)``).
DEFAULT_IGNORE_INDEX = 255
#: ``PackSegInputs``' default meta keys and the source name: the
#: ``meta_keys`` of every student pipeline's ``PackSegInputs``.
SEG_STUDENT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                         'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                         'reduce_zero_label', SOURCE_KEY)
#: How a packed sample keeps its source name.
SEG_PACK_HINT = ("Train on a MultiSourceDataset and pack with dict(type="
                 "'PackSegInputs', meta_keys=(..., 'data_source')) "
                 '(rethink_mmdet.seg.student.SEG_STUDENT_META_KEYS).')


@MODELS.register_module()
class SelfTrainingSegmentor(SelfTrainingStudentMixin, BaseSegmentor):
    """Student of Zoph et al. 2020: human + pseudo loss around any
    segmentor.

    Config form (``_delete_=True``, else the base model's keys are merged
    into this dict)::

        model = dict(_delete_=True, type='SelfTrainingSegmentor',
                     segmentor={{_base_.model}},
                     loss_norm=dict(pseudo_weight=1.0, decay=0.9997,
                                    normalize=True, overall_factor=True),
                     part_forward='auto')

    **Loss.** Each batch is split by ``data_sample.metainfo['data_source']``
    into a human and a pseudo part (``source_terms``). ``part_forward=
    'shared_features'`` (the ``'auto'`` choice for ``EncoderDecoder``):
    ``extract_feat`` once on the whole batch, each decode/auxiliary head's
    ``forward`` once, then each head's ``loss_by_feat`` on each part's
    slice of the logits (:mod:`.part_forward`); ``'per_part'`` (``'auto'``
    for other segmentor classes): the segmentor's ``forward(mode='loss')``
    once per part. Each part's loss dict is summed as mmengine's
    ``parse_losses`` does into ``L_h`` and ``L_p``, combined by the
    :class:`~rethink_mmdet.self_training.loss_norm.LossNormalizer` (App. B)
    and logged as the detection student logs them (``loss``,
    ``loss_human``, ``loss_pseudo``, their ``_avg``, ``human_weight``,
    ``pseudo_weight``, the segmentor's terms prefixed ``human_`` /
    ``pseudo_``), plus ``pseudo_kept_fraction`` (this rank's share of
    pseudo pixels not at the ignore index).

    **Ignored pixels.** Pixels at ``ignore_index`` (the teacher's
    low-confidence pixels, and padding) contribute nothing to ``L_p``, nor
    to its gradient: mmseg's ``CrossEntropyLoss`` drops them. With
    ``CrossEntropyLoss(avg_non_ignore=True)``, which every config of the
    package sets, the mean is over the kept pixels only, so a pseudo map
    with few kept pixels weighs as much per pixel as a full one; mmseg's
    default (``False``) divides by all pixels (a warning says so).

    **Empty parts.** A part without images gets no loss. A part whose
    pixels are all ignored (a pseudo image the teacher was never confident
    about) is computed all the same, so that every rank runs the same
    forwards, and enters as ``0 * L`` (every parameter it touched stays in
    the graph, with zero gradient); the averages are not updated by it and
    its factor (``pseudo_weight`` / ``human_weight``) is logged as 0. A
    non-finite ``L_h`` or ``L_p`` raises
    :class:`~rethink_mmdet.self_training.loss_norm.NonFiniteLossError`
    naming the term and the segmentor's non-finite terms.

    **Checkpoints.** ``state_dict`` keys are the plain segmentor's (the
    ``segmentor.`` prefix is stripped) plus ``loss_norm.*``, which
    ``dict(type='mmdet.JointStateHook')`` in ``custom_hooks`` moves to the
    checkpoint's ``joint_state_dict`` (and back on resume): a student
    checkpoint loads strictly into the plain segmentor config, and a
    teacher checkpoint (``load_from``) into the student.

    ``predict``, ``_forward``, ``extract_feat`` and ``encode_decode`` are
    the inner segmentor's, so evaluation and mmseg's ``tools/test.py`` run
    the student as a plain model.

    Args:
        segmentor (dict): The mmseg segmentor config.
        loss_norm (dict, optional): ``LossNormalizer`` keys:
            ``pseudo_weight`` (1.0; Zoph et al. 2020 use 1.0 for
            segmentation), ``decay`` (0.9997, App. B), ``normalize`` (True),
            ``overall_factor`` (True), ``eps`` (1e-8). Defaults to None (all
            defaults).
        source_terms (dict, optional): Source name -> ``'human'`` or
            ``'pseudo'``. Defaults to None (``{'human': 'human',
            'pseudo': 'pseudo'}``).
        part_forward (str): ``'auto'``, ``'shared_features'`` or
            ``'per_part'`` (see **Loss**). Defaults to ``'auto'``.
        ignore_index (int, optional): The label of ignored pixels, to tell
            a part without kept pixels. Defaults to None (the decode head's
            ``ignore_index``, else 255).
        data_preprocessor (dict, optional): Used when ``segmentor`` has
            none. Defaults to None.
        init_cfg (dict, optional): Of the wrapper itself. Defaults to None.
    """

    INNER_KEY = SEGMENTOR_KEY
    PACK_HINT = SEG_PACK_HINT

    def __init__(self,
                 segmentor: dict,
                 loss_norm: Optional[dict] = None,
                 source_terms: Optional[Dict[str, str]] = None,
                 part_forward: str = 'auto',
                 ignore_index: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        source_terms = check_source_terms(type(self).__name__, source_terms)
        segmentor = copy.deepcopy(segmentor)
        if data_preprocessor is not None and segmentor.get(
                'data_preprocessor') is None:
            segmentor['data_preprocessor'] = data_preprocessor
        inner = MODELS.build(segmentor)
        if not isinstance(inner, BaseSegmentor):
            raise TypeError(
                f'SelfTrainingSegmentor: segmentor='
                f'{segmentor.get("type")!r} built a {type(inner).__name__}, '
                'not an mmseg BaseSegmentor. Pass the segmentor config, e.g. '
                'segmentor={{_base_.model}}.')
        super().__init__(
            data_preprocessor=inner.data_preprocessor, init_cfg=init_cfg)
        self._attach_student(inner, loss_norm, source_terms)
        self.part_forward = resolve_part_forward(
            part_forward,
            inner,
            known=seg_shares_features(inner),
            owner=type(self).__name__,
            composition=SHARED_COMPOSITION)
        if ignore_index is None:
            head = getattr(inner, 'decode_head', None)
            if isinstance(head, nn.ModuleList):  # CascadeEncoderDecoder
                head = head[-1]
            ignore_index = getattr(head, 'ignore_index', DEFAULT_IGNORE_INDEX)
        self.ignore_index = int(ignore_index)
        self._warn_mean_over_all_pixels()

    def _warn_mean_over_all_pixels(self) -> None:
        """Log the losses that divide by all pixels, ignored ones too."""
        names = [
            name for name, module in self.segmentor.named_modules()
            if getattr(module, 'avg_non_ignore', None) is False
        ]
        if names:
            print_log(
                f'SelfTrainingSegmentor: {names} average over all pixels, '
                'ignored ones included, so a pseudo map with few kept '
                'pixels gets a small loss. Set loss_decode=dict(type='
                "'CrossEntropyLoss', avg_non_ignore=True) for the mean over "
                'the kept pixels.',
                logger='current',
                level=logging.WARNING)

    # the inner segmentor's structure, for code that asks the model
    with_neck = property(lambda self: self.segmentor.with_neck)
    with_auxiliary_head = property(
        lambda self: self.segmentor.with_auxiliary_head)
    with_decode_head = property(lambda self: self.segmentor.with_decode_head)
    num_classes = property(lambda self: self.segmentor.num_classes)
    out_channels = property(lambda self: self.segmentor.out_channels)
    align_corners = property(lambda self: self.segmentor.align_corners)

    def extract_feat(self, inputs: Tensor):
        """The inner segmentor's features."""
        return self.segmentor.extract_feat(inputs)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]):
        """The inner segmentor's logits at the input size."""
        return self.segmentor.encode_decode(inputs, batch_img_metas)

    def _forward(self, inputs: Tensor, data_samples: Optional[list] = None):
        """The inner segmentor's raw outputs, through its public
        ``forward(mode='tensor')``."""
        return self.segmentor(inputs, data_samples, mode='tensor')

    def predict(self, inputs: Tensor, data_samples: Optional[list] = None):
        """The inner segmentor's predictions (evaluation, tools/test.py)."""
        return self.segmentor.predict(inputs, data_samples)

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def _raw_part_losses(self, inputs: Tensor, samples: list,
                         parts: Dict[str, List[int]]) -> Dict[str, dict]:
        """The inner segmentor's loss dict of every non-empty part."""
        if self.part_forward != PER_PART:
            return shared_feature_losses(self.segmentor, inputs, samples,
                                         parts)
        return {
            term:
            self.segmentor(
                slice_batch(inputs, idx, len(samples)),
                [samples[i] for i in idx],
                mode='loss')
            for term, idx in parts.items() if idx
        }

    def _kept_pixels(self, samples: list) -> tuple:
        """Pixels of ``samples`` not at the ignore index, and all pixels."""
        kept = total = 0
        for sample in samples:
            labels = sample.gt_sem_seg.data
            kept += int((labels != self.ignore_index).sum())
            total += labels.numel()
        return kept, total

    def loss(self, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """Human and pseudo loss of the batch, combined (App. B).

        Returns:
            dict: ``loss`` (the normalized total) and the logged items of
            the class docstring; :meth:`parse_losses` sums none of them.
        """
        parts = self.split_sources(data_samples)
        raw = self._raw_part_losses(inputs, data_samples, parts)
        losses, terms = self._part_losses(raw)
        human_kept, _ = self._kept_pixels(
            [data_samples[i] for i in parts[HUMAN_TERM]])
        pseudo_kept, pseudo_all = self._kept_pixels(
            [data_samples[i] for i in parts[PSEUDO_TERM]])
        return self._combine(
            losses,
            terms,
            human_valid=human_kept > 0,
            pseudo_valid=pseudo_kept > 0,
            extra=dict(pseudo_kept_fraction=pseudo_kept /
                       pseudo_all if pseudo_all else 0.))
