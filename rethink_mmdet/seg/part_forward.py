# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""How the segmentation student computes the human and the pseudo loss of
one batch.

Zoph et al. 2020 (Sec. 3.2, App. B) need the loss of the human part ``L_h``
and of the pseudo part ``L_p`` of every batch, each the segmentor's own
per-pixel mean over that part's kept pixels. Two ways, the
``part_forward`` key of :class:`~.student.SelfTrainingSegmentor` (the
values of the detection student, :mod:`rethink_mmdet.self_training.
part_forward`):

- ``'shared_features'`` (:func:`shared_feature_losses`): for segmentors
  whose training loss is mmseg's ``EncoderDecoder`` composition
  (:func:`seg_shares_features`: ``loss`` and its decode/auxiliary head
  steps are ``EncoderDecoder``'s, checked by function identity, so a
  subclass that changes them, e.g. ``CascadeEncoderDecoder``, does not
  qualify), the public ``extract_feat`` runs **once** on the whole batch,
  each decode and auxiliary head whose ``loss`` is ``BaseDecodeHead``'s
  (``forward`` then ``loss_by_feat``) runs its ``forward`` once on the
  whole batch, and each part's loss is the head's public ``loss_by_feat``
  on the part's slice of the logits; a head with its own ``loss`` gets
  ``head.loss`` on the part's slice of the features. Keys are prefixed as
  ``EncoderDecoder.loss`` prefixes them (``decode.``, ``aux.``,
  ``aux_{i}.``). With GN (or BN in eval mode) each part's loss and
  gradient equal those of a forward of that part alone, within float
  rounding; heads with dropout draw their masks once for the whole batch.
- ``'per_part'``: the inner segmentor's public ``forward(mode='loss')``
  once per part; the fallback for every other segmentor class.
"""
from typing import Dict, List

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import add_prefix
from torch import Tensor, nn

from rethink_mmdet.self_training.part_forward import slice_batch

__all__ = [
    'ENCODER_DECODER_STEPS', 'seg_shares_features', 'SHARED_COMPOSITION',
    'decode_heads', 'shared_feature_losses'
]

#: ``EncoderDecoder`` methods whose composition the shared mode follows
#: (compared by identity, never called).
ENCODER_DECODER_STEPS = ('loss', '_decode_head_forward_train',
                         '_auxiliary_head_forward_train')
#: What qualifies, in messages.
SHARED_COMPOSITION = "mmseg's EncoderDecoder loss"
#: Loss-key prefixes of ``EncoderDecoder.loss``.
DECODE_PREFIX = 'decode'
AUX_PREFIX = 'aux'


def seg_shares_features(segmentor: nn.Module) -> bool:
    """Whether the segmentor's training loss is ``EncoderDecoder``'s."""
    cls = type(segmentor)
    return isinstance(segmentor, EncoderDecoder) and all(
        getattr(cls, name) is getattr(EncoderDecoder, name)
        for name in ENCODER_DECODER_STEPS)


def decode_heads(segmentor: nn.Module) -> List[tuple]:
    """``(loss-key prefix, head)`` of the decode head and every auxiliary
    head, in ``EncoderDecoder.loss`` order."""
    heads = [(DECODE_PREFIX, segmentor.decode_head)]
    aux = getattr(segmentor, 'auxiliary_head', None)
    if isinstance(aux, nn.ModuleList):
        heads += [(f'{AUX_PREFIX}_{i}', h) for i, h in enumerate(aux)]
    elif aux is not None:
        heads.append((AUX_PREFIX, aux))
    return heads


class _HeadParts:
    """One head's loss per part, its ``forward`` run once when its ``loss``
    is ``BaseDecodeHead``'s."""

    def __init__(self, head: nn.Module, feats, batch_size: int) -> None:
        self.head = head
        self.batch_size = batch_size
        self.shared = type(head).loss is BaseDecodeHead.loss
        self.logits = head(feats) if self.shared else None

    def loss(self, idx: List[int], feats, samples: list, train_cfg) -> dict:
        if not self.shared:
            return self.head.loss(
                slice_batch(feats, idx, self.batch_size), samples, train_cfg)
        return self.head.loss_by_feat(
            slice_batch(self.logits, idx, self.batch_size), samples)


def shared_feature_losses(segmentor: nn.Module, inputs: Tensor,
                          data_samples: list,
                          parts: Dict[str, List[int]]) -> Dict[str, dict]:
    """The segmentor's loss dict of every non-empty part, from one
    ``extract_feat`` and one forward of each head (module docstring).

    Args:
        segmentor (nn.Module): The inner segmentor
            (:func:`seg_shares_features`).
        inputs (Tensor): The preprocessed images, ``(N, C, H, W)``.
        data_samples (list[SegDataSample]): The ``N`` samples.
        parts (dict): Part name -> batch indexes (may be empty).

    Returns:
        dict: Part name -> the segmentor's loss dict of that part.
    """
    if not seg_shares_features(segmentor):
        raise ValueError(
            f'shared_feature_losses: the loss of {type(segmentor).__name__} '
            f"is not {SHARED_COMPOSITION}; use part_forward='per_part'.")
    num = len(data_samples)
    feats = segmentor.extract_feat(inputs)  # once, the whole batch
    heads = [(name, _HeadParts(head, feats, num))
             for name, head in decode_heads(segmentor)]
    out = {}
    for term, idx in parts.items():
        if not idx:
            continue
        samples = [data_samples[i] for i in idx]
        losses = {}
        for name, head in heads:
            losses.update(
                add_prefix(
                    head.loss(idx, feats, samples, segmentor.train_cfg), name))
        out[term] = losses
    return out
