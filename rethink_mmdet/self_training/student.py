# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The self-training student around any mmdet detector (Zoph et al. 2020).

Zoph et al. 2020 ("Rethinking Pre-training and Self-training", Sec. 3 and
App. B): the student optimizes the loss on human labels and the loss on the
teacher's pseudo labels jointly, the latter normalized by the ratio of
their moving averages (:mod:`.loss_norm`). :class:`SelfTrainingDetector`
wraps any mmdet detector config, splits every batch by each sample's
``metainfo[SOURCE_KEY]`` (set by :class:`~.sources.MultiSourceDataset`) and
computes each part's loss with the detector's own normalization
(``avg_factor`` over that part's boxes): by default from one forward whose
backbone, neck and dense head run once on the whole batch
(:mod:`.part_forward`).

Unlike mmdet's ``SemiBaseDetector`` (an online mean teacher with two
hard-coded branches and fixed loss weights) there is one model: the teacher
is offline, its labels come from the pseudo-label store.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
from torch import Tensor

from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList, SampleList
from .loss_norm import HUMAN_TERM, PSEUDO_TERM
from .part_forward import (PER_PART, resolve_part_forward,
                           shared_feature_losses, slice_batch)
from .student_base import (DEFAULT_SOURCE_TERMS, TOTAL_KEY,
                           SelfTrainingStudentMixin, check_source_terms)
from .student_keys import DETECTOR_KEY, LOSS_NORM_KEY

__all__ = [
    'TOTAL_KEY', 'DETECTOR_KEY', 'LOSS_NORM_KEY', 'DEFAULT_SOURCE_TERMS',
    'SelfTrainingDetector'
]


@MODELS.register_module()
class SelfTrainingDetector(SelfTrainingStudentMixin, BaseDetector):
    """Student of Zoph et al. 2020: human + pseudo loss around any detector.

    Config form (``_delete_=True``, else the base model's keys are merged
    into this dict)::

        model = dict(_delete_=True, type='SelfTrainingDetector',
                     detector={{_base_.model}},
                     loss_norm=dict(pseudo_weight=1.0, decay=0.9997,
                                    normalize=True, overall_factor=True),
                     part_forward='auto')

    ``detector`` may be any mmdet detector config, e.g. a scratch GN-all or
    SyncBN-all model written out by ``tools/misc/render_scratch_model.py``
    (He et al. 2019): ``detector={{_base_.model}}``. Start modes: random
    init (+ ``ScratchGuardHook``), a backbone ``init_cfg`` (ImageNet), or
    ``load_from`` the teacher's checkpoint.

    **Loss.** Each batch is split by ``data_sample.metainfo['data_source']``
    into a human and a pseudo part. ``part_forward='shared_features'`` (the
    ``'auto'`` choice for mmdet's single-stage, two-stage and RPN
    detectors): the inner detector's ``extract_feat`` (backbone, neck) once
    on the whole batch and its dense head's forward (RetinaNet/FCOS head,
    RPN) once (batch norm statistics of the whole batch, as the plain
    detector), then each head's public loss on each part's slice of the
    features and head outputs (:mod:`.part_forward`).
    ``part_forward='per_part'`` (``'auto'`` for other detector classes, e.g.
    instance-seg or DETR): the inner detector's ``forward(mode='loss')`` once
    per part. Either way
    each part's loss dict is summed as mmengine's ``parse_losses`` does
    (keys containing ``'loss'``, lists summed) into ``L_h`` and ``L_p``; with
    GN (or BN in eval mode) both modes give the same losses and gradients
    up to float rounding. They are combined by
    :class:`~.loss_norm.LossNormalizer` (Zoph et al. 2020, App. B) into
    ``L = human_weight * L_h + pseudo_weight * L_p``. The total is returned
    under :data:`TOTAL_KEY` and :meth:`parse_losses` uses it as it is; every
    other entry is logged only (e.g. ``loss_human_avg``, which mmengine's
    base ``parse_losses`` would add to the total because the name contains
    ``'loss'``). Logged: ``loss``
    (= L), ``loss_human``, ``loss_pseudo`` (L_h, L_p before weighting),
    ``loss_human_avg``, ``loss_pseudo_avg`` (the moving averages),
    ``human_weight``, ``pseudo_weight`` (the factors of L_h and L_p),
    ``pseudo_boxes_per_image`` (this rank) and the detector's own terms
    unweighted, prefixed ``human_`` / ``pseudo_`` (``human_loss_cls``...).

    **Empty parts.** A part without images gets no loss and counts as
    absent. A human part without boxes is an ordinary part (negatives, as
    in a plain mmdet run). A pseudo part whose images have no box at all is
    computed (so that every rank runs the same forwards: SyncBN's
    collectives stay matched) and enters as ``0 * L_p``, which keeps every
    parameter it touched in the autograd graph (DDP sees no unused
    parameter) while contributing exactly zero gradient; the averages are
    not updated by it and its factor ``pseudo_weight`` is logged as 0. A
    batch with no pseudo image on one rank but some on another is safe for
    DDP's gradient reduction (the human part uses every parameter) but not
    for SyncBN: with SyncBN every rank's batch needs the same per-source
    counts, which :class:`~.sampler.MixedSourceSampler` guarantees.

    **Score weighting** (``score_weighted=True``, off by default; the paper
    uses hard labels): ``L_p`` is multiplied by the mean teacher score of
    the pseudo boxes in this rank's batch (``gt_instances.scores``, carried
    by ``LoadPseudoAnnotations`` + ``PackStudentInputs``). This is a
    per-batch weight, exact as such; per-box or per-image weights would need
    each head's target assignment and are not implemented. The averages see
    the unweighted ``L_p``, so the normalization does not undo the weight.

    **Checkpoints.** ``state_dict`` keys are the plain detector's (the
    ``detector.`` prefix is stripped) plus ``loss_norm.*``, which
    :class:`~.joint_hook.JointStateHook` (in every student config's
    ``custom_hooks``) moves to the checkpoint's own key
    ``joint_state_dict``, as mmengine's ``EMAHook`` keeps
    ``ema_state_dict``, and puts back on resume. So a student checkpoint
    loads into a plain config of the same detector as it is, and a plain
    (teacher) checkpoint loads into the student, whose averages then start
    fresh.

    ``predict``, ``_forward`` and ``extract_feat`` are the inner detector's,
    so evaluation and ``tools/test.py`` run the student as a plain model.

    Args:
        detector (dict): The mmdet detector config.
        loss_norm (dict, optional): :class:`~.loss_norm.LossNormalizer`
            keys: ``pseudo_weight`` (1.0), ``decay`` (0.9997, Zoph et al.
            2020, App. B), ``normalize`` (True), ``overall_factor`` (True),
            ``eps`` (1e-8). Defaults to None (all defaults).
        score_weighted (bool): Weight ``L_p`` by the mean teacher score of
            the batch's pseudo boxes. Defaults to False.
        source_terms (dict, optional): Source name (``metainfo
            ['data_source']``) -> ``'human'`` or ``'pseudo'``, for sources
            named otherwise. Defaults to None (``{'human': 'human',
            'pseudo': 'pseudo'}``).
        part_forward (str): ``'auto'``, ``'shared_features'`` or
            ``'per_part'`` (see **Loss**). Defaults to ``'auto'``.
        data_preprocessor (dict, optional): Used when ``detector`` has none
            (mmengine's Runner passes a top-level ``data_preprocessor``).
            Defaults to None.
        init_cfg (dict, optional): Of the wrapper itself (the detector has
            its own). Defaults to None.
    """

    INNER_KEY = DETECTOR_KEY
    PACK_HINT = ('Train on a MultiSourceDataset and pack with '
                 'PackStudentInputs (rethink_mmdet.self_training.sources).')

    def __init__(self,
                 detector: dict,
                 loss_norm: Optional[dict] = None,
                 score_weighted: bool = False,
                 source_terms: Optional[Dict[str, str]] = None,
                 part_forward: str = 'auto',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        source_terms = check_source_terms(type(self).__name__, source_terms)
        detector = copy.deepcopy(detector)
        if data_preprocessor is not None and detector.get(
                'data_preprocessor') is None:
            detector['data_preprocessor'] = data_preprocessor
        inner = MODELS.build(detector)
        if not isinstance(inner, BaseDetector):
            raise TypeError(
                f'SelfTrainingDetector: detector={detector.get("type")!r} '
                f'built a {type(inner).__name__}, not an mmdet BaseDetector. '
                'Pass the detector config, e.g. detector={{_base_.model}}.')
        super().__init__(
            data_preprocessor=inner.data_preprocessor, init_cfg=init_cfg)
        self._attach_student(inner, loss_norm, source_terms)
        self.score_weighted = bool(score_weighted)
        self.part_forward = resolve_part_forward(part_forward, inner)

    # the inner detector's structure, for code that asks the model
    with_neck = property(lambda self: self.detector.with_neck)
    with_shared_head = property(lambda self: self.detector.with_shared_head)
    with_bbox = property(lambda self: self.detector.with_bbox)
    with_mask = property(lambda self: self.detector.with_mask)

    def extract_feat(self, batch_inputs: Tensor):
        """The inner detector's features."""
        return self.detector.extract_feat(batch_inputs)

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: OptSampleList = None):
        """The inner detector's raw outputs, through its public
        ``forward(mode='tensor')``."""
        return self.detector(batch_inputs, batch_data_samples, mode='tensor')

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """The inner detector's predictions (evaluation, tools/test.py)."""
        return self.detector.predict(
            batch_inputs, batch_data_samples, rescale=rescale)

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def _raw_part_losses(self, batch_inputs: Union[Tensor,
                                                   list], samples: SampleList,
                         parts: Dict[str, List[int]]) -> Dict[str, dict]:
        """The inner detector's loss dict of every non-empty part."""
        if self.part_forward != PER_PART and isinstance(batch_inputs, Tensor):
            return shared_feature_losses(self.detector, batch_inputs, samples,
                                         parts)
        raw = {}
        for term, idx in parts.items():
            if not idx:
                continue
            if isinstance(batch_inputs, Tensor):
                inputs = slice_batch(batch_inputs, idx, len(samples))
            else:
                inputs = [batch_inputs[i] for i in idx]
            raw[term] = self.detector(
                inputs, [samples[i] for i in idx], mode='loss')
        return raw

    def _score_scale(self, samples: SampleList) -> float:
        """Mean teacher score of the pseudo boxes (1 without boxes)."""
        scores = []
        for sample in samples:
            gt = sample.gt_instances
            if len(gt) and 'scores' not in gt:
                raise KeyError(
                    'SelfTrainingDetector(score_weighted=True): a pseudo '
                    f'sample ({sample.metainfo.get("img_path")}) has boxes '
                    'but no gt_instances.scores. Load the pipeline with '
                    'LoadPseudoAnnotations and pack with PackStudentInputs.')
            if len(gt):
                scores.append(gt.scores.detach().float().reshape(-1))
        if not scores:
            return 1.
        return float(torch.cat(scores).mean())

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Human and pseudo loss of the batch, combined (App. B).

        Returns:
            dict: :data:`TOTAL_KEY` (the normalized total) and the logged
            items of the class docstring; :meth:`parse_losses` sums none of
            them.
        """
        parts = self.split_sources(batch_data_samples)
        raw = self._raw_part_losses(batch_inputs, batch_data_samples, parts)
        losses, terms = self._part_losses(raw)
        pseudo = [batch_data_samples[i] for i in parts[PSEUDO_TERM]]
        num_boxes = sum(len(s.gt_instances) for s in pseudo)
        scale = self._score_scale(pseudo) if self.score_weighted else 1.
        return self._combine(
            losses,
            terms,
            human_valid=bool(parts[HUMAN_TERM]),
            pseudo_valid=num_boxes > 0,
            pseudo_scale=scale,
            extra=dict(pseudo_boxes_per_image=num_boxes /
                       len(pseudo) if pseudo else 0.))
