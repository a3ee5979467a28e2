# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""How the student computes the human and the pseudo loss of one batch.

Zoph et al. 2020 (Sec. 3, App. B) need the loss of the human part ``L_h``
and of the pseudo part ``L_p`` of every batch, each with the detector's own
normalization (``avg_factor`` over that part's boxes). Two ways, the
``part_forward`` key of :class:`~.student.SelfTrainingDetector`:

- ``'shared_features'`` (:func:`shared_feature_losses`): **one** forward of
  the inner detector on the whole batch, as the plain detector runs it. Its
  ``extract_feat`` (backbone + neck) runs once on all images; then the
  detector's own ``loss`` runs once per part on that part's slice of the
  features, fed by :func:`fed_features` (for that call ``extract_feat``
  returns the slice). The heads, target assignment and loss normalization
  are the detector's unchanged code. Exact for the detectors whose ``loss``
  reads the images only through ``self.extract_feat(batch_inputs)``:
  :data:`SHARED_FEATURE_LOSSES` (every ``SingleStageDetector`` such as
  RetinaNet/FCOS/ATSS, every ``TwoStageDetector`` such as Faster/Mask/
  Cascade R-CNN, ``RPN``, ``SingleStageInstanceSegmentor``, the DETR
  family), checked by the identity of the class's ``loss`` function (a
  subclass that overrides ``loss`` is not assumed to qualify). The dense
  head that follows (a single-stage detector's ``bbox_head``, a two-stage
  detector's ``rpn_head``) also runs its forward once on the whole batch
  when its ``loss`` / ``loss_and_predict`` is ``BaseDenseHead``'s, which
  calls ``self(x)`` once and then ``loss_by_feat`` (:data:`SHARED_HEADS`);
  each part's ``loss_by_feat`` gets that part's slice of the head outputs.
  Backbone, neck and dense head see the whole batch, so batch norm
  statistics in training are the whole batch's, the plain detector's (with
  GN, or BN in eval mode, every part's features and head outputs, thus its
  losses and gradients, equal those of a forward of that part alone, within
  float rounding). RoI heads run per part (their work is per RoI).
- ``'per_part'``: one full forward of the inner detector per part (two
  half-batch backbone passes; BN statistics per part). The fallback for any
  other detector class.

``forward`` hooks of the inner detector (e.g. the SyncBN train guard of
``ScratchNormDetector``) run once per forward in both modes: the shared mode
goes through ``detector(..., mode='loss')`` on the whole batch.
"""
from contextlib import ExitStack, contextmanager
from typing import Dict, Iterator, List, Sequence, Union

import torch
from torch import Tensor, nn

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.detectors import (RPN, DetectionTransformer,
                                    SingleStageDetector, TwoStageDetector)
from mmdet.models.detectors.single_stage_instance_seg import \
    SingleStageInstanceSegmentor
from mmdet.structures import SampleList

__all__ = [
    'PART_FORWARD_MODES', 'SHARED_FEATURES', 'PER_PART',
    'SHARED_FEATURE_LOSSES', 'SHARED_HEADS', 'shares_features',
    'resolve_part_forward', 'slice_batch', 'fed_outputs',
    'shared_feature_losses'
]

SHARED_FEATURES = 'shared_features'
PER_PART = 'per_part'
#: Values of ``part_forward``; ``'auto'`` picks the shared mode where exact.
PART_FORWARD_MODES = ('auto', SHARED_FEATURES, PER_PART)
#: ``loss`` functions of mmdet 3.3 that read ``batch_inputs`` only through
#: one ``self.extract_feat(batch_inputs)`` call (single_stage.py,
#: two_stage.py, rpn.py, single_stage_instance_seg.py, base_detr.py).
SHARED_FEATURE_LOSSES = (SingleStageDetector.loss, TwoStageDetector.loss,
                         RPN.loss, SingleStageInstanceSegmentor.loss,
                         DetectionTransformer.loss)
#: detector ``loss`` -> (its dense head attribute, the head method that
#: calls ``self(x)`` exactly once on the features it is given).
SHARED_HEADS = {
    SingleStageDetector.loss: ('bbox_head', BaseDenseHead.loss),
    RPN.loss: ('bbox_head', BaseDenseHead.loss),
    TwoStageDetector.loss: ('rpn_head', BaseDenseHead.loss_and_predict),
}


def shares_features(detector: nn.Module) -> bool:
    """Whether the detector's ``loss`` is one of
    :data:`SHARED_FEATURE_LOSSES`."""
    return any(type(detector).loss is f for f in SHARED_FEATURE_LOSSES)


def resolve_part_forward(mode: str, detector: nn.Module) -> str:
    """``'auto'`` -> the shared mode where exact, else per part.

    Raises:
        ValueError: An unknown mode, or ``'shared_features'`` for a
            detector whose ``loss`` is not known to qualify.
    """
    if mode not in PART_FORWARD_MODES:
        raise ValueError(
            f'SelfTrainingDetector: part_forward={mode!r} is not one of '
            f'{PART_FORWARD_MODES}.')
    known = shares_features(detector)
    if mode == SHARED_FEATURES and not known:
        raise ValueError(
            f'SelfTrainingDetector(part_forward={SHARED_FEATURES!r}): the '
            f'loss of {type(detector).__name__} is not one known to read '
            'the images only through self.extract_feat (mmdet\'s '
            'single-stage, two-stage, RPN, instance-seg and DETR losses), '
            f'so shared features may not be exact. Use part_forward='
            f"'{PER_PART}' (or 'auto').")
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
                'SelfTrainingDetector(part_forward='
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
        f'SelfTrainingDetector(part_forward={SHARED_FEATURES!r}): '
        f'features of type {type(value).__name__} cannot be split by '
        f"batch item; use part_forward='{PER_PART}'.")


def _shared_head(detector: nn.Module):
    """The dense head whose forward is shared, or None."""
    name, method = SHARED_HEADS.get(type(detector).loss, (None, None))
    head = getattr(detector, name, None) if name else None
    if head is None or getattr(type(head), method.__name__) is not method:
        return None
    return head


@contextmanager
def fed_outputs(module: nn.Module, method: str, inputs,
                outputs) -> Iterator[List[int]]:
    """Within the context ``module.<method>(inputs)`` returns ``outputs``
    (an instance attribute shadowing the method, removed on exit), e.g.
    ``extract_feat`` of the detector or ``forward`` of a head. Yields the
    list of calls, so the caller can check there was exactly one.

    Raises:
        RuntimeError: The method called with other inputs.
    """
    calls: List[int] = []

    def fed(value, *args, **kwargs):
        if value is not inputs or args or kwargs:
            raise RuntimeError(
                f'{type(module).__name__}.{method} was called on other '
                'inputs than the part\'s: shared features are not exact '
                f"for this detector; use part_forward='{PER_PART}'.")
        calls.append(1)
        return outputs

    setattr(module, method, fed)
    try:
        yield calls
    finally:
        delattr(module, method)


def shared_feature_losses(
        detector: nn.Module, batch_inputs: Tensor,
        batch_data_samples: SampleList,
        parts: Dict[str, List[int]]) -> Dict[str, Union[dict, list]]:
    """The inner detector's raw loss dict of every non-empty part, from one
    forward (see the module docstring).

    Args:
        detector (nn.Module): The inner detector (:func:`shares_features`).
        batch_inputs (Tensor): The preprocessed images, ``(N, C, H, W)``.
        batch_data_samples (list[DetDataSample]): The ``N`` samples.
        parts (dict): Part name -> batch indexes (may be empty).

    Returns:
        dict: Part name -> the detector's loss dict of that part.
    """
    cls_loss = type(detector).loss
    head = _shared_head(detector)
    num = len(batch_data_samples)

    def loss(inputs: Tensor, samples: SampleList) -> dict:
        feats = detector.extract_feat(inputs)  # once, the whole batch
        outs = head(feats) if head is not None else None
        out = {}
        for term, idx in parts.items():
            if not idx:
                continue
            part_inputs = slice_batch(inputs, idx, num)
            part_feats = slice_batch(feats, idx, num)
            with ExitStack() as stack:
                calls = [
                    stack.enter_context(
                        fed_outputs(detector, 'extract_feat', part_inputs,
                                    part_feats))
                ]
                if head is not None:
                    calls.append(
                        stack.enter_context(
                            fed_outputs(head, 'forward', part_feats,
                                        slice_batch(outs, idx, num))))
                out[term] = cls_loss(detector, part_inputs,
                                     [samples[i] for i in idx])
            if any(len(c) != 1 for c in calls):
                raise RuntimeError(
                    f'{type(detector).__name__}.loss did not call '
                    'extract_feat (and its dense head) exactly once: shared '
                    f"features are not exact for it; use part_forward="
                    f"'{PER_PART}'.")
        return out

    detector.loss = loss  # so that detector.forward (and its hooks) runs
    try:
        return detector(batch_inputs, batch_data_samples, mode='loss')
    finally:
        del detector.loss
