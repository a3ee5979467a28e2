# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""How the student computes the human and the pseudo loss of one batch.

Zoph et al. 2020 (Sec. 3, App. B) need the loss of the human part ``L_h``
and of the pseudo part ``L_p`` of every batch, each with the detector's own
normalization (``avg_factor`` over that part's boxes). Two ways, the
``part_forward`` key of :class:`~.student.SelfTrainingDetector`:

- ``'shared_features'`` (:func:`shared_feature_losses`): the detector's
  public ``extract_feat`` (backbone + neck) runs **once** on the whole
  batch; then each part's loss comes from the heads' public APIs on that
  part's slice of the features, as mmdet's ``SoftTeacher`` computes its
  pseudo losses: a single-stage detector's ``bbox_head.loss``, an RPN's
  (labels set to 0, as mmdet's ``RPN.loss``), a two-stage detector's
  ``rpn_head.loss_and_predict`` then ``roi_head.loss`` on the part's
  proposals (the ``rpn_`` key prefix as ``TwoStageDetector.loss``). A dense
  head whose ``loss`` / ``loss_and_predict`` is ``BaseDenseHead``'s (RetinaNet,
  FCOS, ATSS, GFL, RPN heads...) also runs its forward once, ``head(x)`` on
  the whole batch, and each part's ``loss_by_feat`` (and ``predict_by_feat``
  for proposals) gets the part's slice of its outputs; other dense heads get
  ``head.loss`` per part. Nothing is patched on any object. Exact for the
  detectors whose ``loss`` is one of :data:`SHARED_FEATURE_LOSSES` (every
  ``SingleStageDetector``, ``TwoStageDetector`` such as Faster/Mask/Cascade
  R-CNN, and ``RPN``), checked by the identity of the class's ``loss``
  function: a subclass that overrides ``loss`` is not assumed to qualify.
  Backbone, neck and shared dense head see the whole batch, so batch norm
  statistics in training are the whole batch's, the plain detector's (with
  GN, or BN in eval mode, every part's features and head outputs, thus its
  losses and gradients, equal those of a forward of that part alone,
  within float rounding). RoI heads run per part (their work is per RoI).
- ``'per_part'``: the inner detector's public ``forward(mode='loss')`` once
  per part (two half-batch backbone passes; BN statistics per part). The
  fallback for any other detector class (instance-seg, DETR, own ``loss``).

Forward hooks of the backbone run in both modes; the inner detector's own
``forward`` runs in the per-part mode only.
"""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.detectors import RPN, SingleStageDetector, TwoStageDetector
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList

__all__ = [
    'PART_FORWARD_MODES', 'SHARED_FEATURES', 'PER_PART',
    'SHARED_FEATURE_LOSSES', 'shares_features', 'resolve_part_forward',
    'slice_batch', 'DenseHeadParts', 'shared_feature_losses'
]

SHARED_FEATURES = 'shared_features'
PER_PART = 'per_part'
#: Values of ``part_forward``; ``'auto'`` picks the shared mode where exact.
PART_FORWARD_MODES = ('auto', SHARED_FEATURES, PER_PART)
#: mmdet 3.3 ``loss`` functions whose composition (``extract_feat`` once,
#: then the heads' public losses) :func:`shared_feature_losses` follows.
SHARED_FEATURE_LOSSES = (SingleStageDetector.loss, TwoStageDetector.loss,
                         RPN.loss)


def shares_features(detector: nn.Module) -> bool:
    """Whether the detector's ``loss`` is one of
    :data:`SHARED_FEATURE_LOSSES`."""
    return any(type(detector).loss is f for f in SHARED_FEATURE_LOSSES)


def resolve_part_forward(
    mode: str,
    detector: nn.Module,
    known: Optional[bool] = None,
    owner: str = 'SelfTrainingDetector',
    composition: str = ("mmdet's single-stage, "
                        'two-stage or RPN loss')
) -> str:
    """``'auto'`` -> the shared mode where exact, else per part.

    Args:
        mode (str): One of :data:`PART_FORWARD_MODES`.
        detector (nn.Module): The inner model.
        known (bool, optional): Whether the inner model's ``loss`` is one
            the shared mode follows. Defaults to None
            (:func:`shares_features`, mmdet's detectors).
        owner (str): The student's class, in messages. Defaults to
            ``'SelfTrainingDetector'``.
        composition (str): The ``loss`` functions the shared mode follows,
            in messages. Defaults to mmdet's.

    Raises:
        ValueError: An unknown mode, or ``'shared_features'`` for a
            model whose ``loss`` is not known to qualify.
    """
    if mode not in PART_FORWARD_MODES:
        raise ValueError(f'{owner}: part_forward={mode!r} is not one of '
                         f'{PART_FORWARD_MODES}.')
    if known is None:
        known = shares_features(detector)
    if mode == SHARED_FEATURES and not known:
        raise ValueError(
            f'{owner}(part_forward={SHARED_FEATURES!r}): the loss of '
            f'{type(detector).__name__} is not {composition}, whose '
            "composition (extract_feat once, then the heads' losses) the "
            f"shared mode follows. Use part_forward='{PER_PART}' (or "
            "'auto').")
    if mode == 'auto':
        return SHARED_FEATURES if known else PER_PART
    return mode


def slice_batch(value, idx: Sequence[int], batch_size: int):
    """``value`` restricted to the batch items ``idx`` (a view when ``idx``
    is a contiguous range), for a tensor with the batch as first dimension
    or a (nested) list/tuple of such tensors (multi-level features)."""
    if isinstance(value, Tensor):
        if value.dim() == 0 or value.shape[0] != batch_size:
            raise ValueError(
                'Self-training student (part_forward='
                f'{SHARED_FEATURES!r}): a feature of shape '
                f'{tuple(value.shape)} does not have the batch size '
                f'{batch_size} as first dimension; use part_forward='
                f"'{PER_PART}'.")
        if list(idx) == list(range(idx[0], idx[-1] + 1)):
            return value[idx[0]:idx[-1] + 1]
        return value.index_select(0, torch.as_tensor(idx, device=value.device))
    if isinstance(value, (list, tuple)):
        return type(value)(slice_batch(v, idx, batch_size) for v in value)
    raise TypeError(
        f'Self-training student (part_forward={SHARED_FEATURES!r}): '
        f'features of type {type(value).__name__} cannot be split by '
        f"batch item; use part_forward='{PER_PART}'.")


def _with_zero_labels(samples: SampleList) -> SampleList:
    """Copies whose boxes all have label 0: the RPN's targets (mmdet's
    ``RPN.loss`` and ``TwoStageDetector.loss`` do the same)."""
    samples = copy.deepcopy(samples)
    for sample in samples:
        sample.gt_instances.labels = torch.zeros_like(
            sample.gt_instances.labels)
    return samples


class DenseHeadParts:
    """A dense head's losses per part, its forward run once when it can be.

    When the head's ``loss`` and ``loss_and_predict`` are ``BaseDenseHead``'s
    (``self(x)`` once, then ``loss_by_feat`` / ``predict_by_feat``), the
    head runs ``head(feats)`` on the whole batch here and each part's
    methods get that part's slice of the outputs; otherwise each part calls
    the head's own ``loss`` / ``loss_and_predict`` on its features.

    Args:
        head (nn.Module): The dense head (``bbox_head``, ``rpn_head``).
        feats (tuple[Tensor]): The whole batch's features.
        batch_size (int): The whole batch's size.
    """

    def __init__(self, head: nn.Module, feats, batch_size: int) -> None:
        self.head = head
        self.batch_size = batch_size
        cls = type(head)
        self.shared = (
            cls.loss is BaseDenseHead.loss
            and cls.loss_and_predict is BaseDenseHead.loss_and_predict)
        self.outs = head(feats) if self.shared else None

    def loss(self,
             idx: List[int],
             feats,
             samples: SampleList,
             proposal_cfg: Optional[dict] = None,
             with_proposals: bool = False):
        """The part's loss dict (and, ``with_proposals``, its proposals).

        Args:
            idx (list[int]): The part's batch indexes.
            feats (tuple[Tensor]): The part's slice of the features.
            samples (list[DetDataSample]): The part's samples.
            proposal_cfg (dict, optional): Of ``loss_and_predict``.
                Defaults to None.
            with_proposals (bool): Return ``(losses, proposals)``, as
                ``loss_and_predict``. Defaults to False.
        """
        if not self.shared:
            if with_proposals:
                return self.head.loss_and_predict(
                    feats, samples, proposal_cfg=proposal_cfg)
            return self.head.loss(feats, samples)
        gts, ignores, metas = unpack_gt_instances(samples)
        outs = slice_batch(self.outs, idx, self.batch_size)
        losses = self.head.loss_by_feat(*outs, gts, metas, ignores)
        if not with_proposals:
            return losses
        return losses, self.head.predict_by_feat(
            *outs, batch_img_metas=metas, cfg=proposal_cfg)


def _two_stage_part(detector: nn.Module, rpn: Optional[DenseHeadParts],
                    idx: List[int], feats, samples: SampleList,
                    rpn_samples: SampleList) -> dict:
    """``TwoStageDetector.loss`` of one part, from its features."""
    losses = {}
    if rpn is not None:
        proposal_cfg = detector.train_cfg.get('rpn_proposal',
                                              detector.test_cfg.rpn)
        rpn_losses, proposals = rpn.loss(
            idx, feats, rpn_samples, proposal_cfg, with_proposals=True)
        for key in list(rpn_losses):  # as TwoStageDetector.loss names them
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        losses.update(rpn_losses)
    else:
        proposals = [sample.proposals for sample in samples]
    losses.update(detector.roi_head.loss(feats, proposals, samples))
    return losses


def shared_feature_losses(
        detector: nn.Module, batch_inputs: Tensor,
        batch_data_samples: SampleList,
        parts: Dict[str, List[int]]) -> Dict[str, Union[dict, list]]:
    """The inner detector's loss dict of every non-empty part, from one
    backbone/neck forward (see the module docstring).

    Args:
        detector (nn.Module): The inner detector (:func:`shares_features`).
        batch_inputs (Tensor): The preprocessed images, ``(N, C, H, W)``.
        batch_data_samples (list[DetDataSample]): The ``N`` samples.
        parts (dict): Part name -> batch indexes (may be empty).

    Returns:
        dict: Part name -> the detector's loss dict of that part.
    """
    if not shares_features(detector):
        raise ValueError(
            f'shared_feature_losses: {type(detector).__name__} does not '
            "qualify (see resolve_part_forward); use part_forward='per_part'"
            '.')
    num = len(batch_data_samples)
    feats = detector.extract_feat(batch_inputs)  # once, the whole batch
    two_stage = type(detector).loss is TwoStageDetector.loss
    if two_stage:
        head = detector.rpn_head if detector.with_rpn else None
    else:
        head = detector.bbox_head
    dense = DenseHeadParts(head, feats, num) if head is not None else None
    zero_labels = type(detector).loss is RPN.loss or (two_stage
                                                      and dense is not None)
    head_samples = (
        _with_zero_labels(batch_data_samples)
        if zero_labels else batch_data_samples)
    out = {}
    for term, idx in parts.items():
        if not idx:
            continue
        part_feats = slice_batch(feats, idx, num)
        samples = [batch_data_samples[i] for i in idx]
        part_head_samples = [head_samples[i] for i in idx]
        if two_stage:
            out[term] = _two_stage_part(detector, dense, idx, part_feats,
                                        samples, part_head_samples)
        else:
            out[term] = dense.loss(idx, part_feats, part_head_samples)
    return out
