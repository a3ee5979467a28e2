# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""What every self-training student does, whatever its inner model
(Zoph et al. 2020, Sec. 3 and App. B).

A student wraps one plain model (an mmdet detector:
:class:`~.student.SelfTrainingDetector`; an mmseg segmentor:
``rethink_mmdet.seg.SelfTrainingSegmentor``), splits every batch by each
sample's ``metainfo['data_source']`` into a human and a pseudo part, gets
the inner model's loss dict of each part (the task's own business), and
combines ``L_h`` and ``L_p`` with the
:class:`~.loss_norm.LossNormalizer` (App. B: ``L = 1/(1+a) (L_h + a
Lbar_h / Lbar_p L_p)``). :class:`SelfTrainingStudentMixin` holds that
common part: the split, each part's ``parse_losses`` sum, the combination
and its logged items, the wrapper's ``parse_losses`` and the plain model's
checkpoint keys. It is mixed in front of the task's base model class
(``BaseDetector``, ``BaseSegmentor``).
"""
import functools
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

from mmengine.registry import DefaultScope
from torch import Tensor, nn

from mmdet.models.utils import rename_loss_dict
from mmdet.registry import MODELS
from .loss_norm import HUMAN_TERM, PSEUDO_TERM, NonFiniteLossError
from .sources import HUMAN, PSEUDO, SOURCE_KEY
from .student_keys import LOSS_NORM_KEY, strip_inner_prefix, to_student_keys

__all__ = [
    'TOTAL_KEY', 'DEFAULT_SOURCE_TERMS', 'check_source_terms',
    'SelfTrainingStudentMixin'
]

#: Key of the normalized total in the loss dict (see ``parse_losses``).
TOTAL_KEY = 'loss'
#: Default ``source_terms``: the standard source names of
#: :class:`~.sources.MultiSourceDataset`.
DEFAULT_SOURCE_TERMS = {HUMAN: HUMAN_TERM, PSEUDO: PSEUDO_TERM}


def check_source_terms(owner: str,
                       source_terms: Optional[dict]) -> Dict[str, str]:
    """``source_terms`` (or the default), each value checked.

    Raises:
        ValueError: A value other than ``'human'`` / ``'pseudo'``.
    """
    source_terms = dict(source_terms or DEFAULT_SOURCE_TERMS)
    bad = {
        k: v
        for k, v in source_terms.items() if v not in (HUMAN_TERM, PSEUDO_TERM)
    }
    if bad:
        raise ValueError(
            f'{owner}: source_terms {bad} must map each source name to '
            f'{HUMAN_TERM!r} or {PSEUDO_TERM!r}.')
    return source_terms


class SelfTrainingStudentMixin:
    """The task-independent part of a self-training student.

    A subclass sets :attr:`INNER_KEY` (the attribute of the inner model,
    stripped from checkpoint keys) and :attr:`PACK_HINT` (how a sample gets
    its ``data_source``), calls :meth:`_attach_student` after its base
    class' ``__init__``, and computes the parts' raw loss dicts itself.
    """

    #: Attribute of the inner model.
    INNER_KEY = 'model'
    #: The end of the message for a sample without ``data_source``.
    PACK_HINT = 'Train on a MultiSourceDataset.'

    @property
    def inner(self) -> nn.Module:
        """The wrapped plain model."""
        return getattr(self, self.INNER_KEY)

    def _attach_student(self, inner: nn.Module, loss_norm: Optional[dict],
                        source_terms: Dict[str, str]) -> None:
        """Set the inner model, the normalizer (mmdet's ``MODELS``, any
        default scope) and the checkpoint-key hook."""
        owner = type(self).__name__
        clash = {self.INNER_KEY, LOSS_NORM_KEY} & set(inner._modules)
        if clash:
            raise ValueError(
                f'{owner}: the inner {type(inner).__name__} has submodules '
                f'named {sorted(clash)}, which the wrapper uses: its '
                'checkpoint keys would be ambiguous.')
        setattr(self, self.INNER_KEY, inner)
        norm_cfg = dict(type='LossNormalizer')
        norm_cfg.update(loss_norm or {})
        with DefaultScope.overwrite_default_scope('mmdet'):
            self.loss_norm = MODELS.build(norm_cfg)
        self.source_terms = source_terms
        self.register_state_dict_post_hook(
            functools.partial(strip_inner_prefix, inner_key=self.INNER_KEY))

    def split_sources(self, batch_data_samples: Sequence) -> Dict[str, list]:
        """Indexes of the human and the pseudo samples of a batch.

        Returns:
            dict: ``{'human': [...], 'pseudo': [...]}`` batch indexes.

        Raises:
            KeyError: A sample without ``metainfo['data_source']``.
            ValueError: A source name not in ``source_terms``.
        """
        owner = type(self).__name__
        parts = {HUMAN_TERM: [], PSEUDO_TERM: []}
        for i, sample in enumerate(batch_data_samples):
            source = sample.metainfo.get(SOURCE_KEY)
            if source is None:
                raise KeyError(
                    f'{owner}: sample {i} of the batch '
                    f'({sample.metainfo.get("img_path")}) has no metainfo '
                    f'{SOURCE_KEY!r}, so the student cannot tell human from '
                    f'pseudo labels. {self.PACK_HINT}')
            if source not in self.source_terms:
                raise ValueError(
                    f'{owner}: sample {i} has {SOURCE_KEY}={source!r}, not '
                    f'one of {sorted(self.source_terms)}. Map it with '
                    'source_terms={name: "human" or "pseudo"}.')
            parts[self.source_terms[source]].append(i)
        return parts

    def _part_losses(self, raw: Dict[str, dict]) -> Tuple[dict, dict]:
        """``L_h`` and ``L_p`` (zero when a part is absent), each the inner
        model's ``parse_losses`` sum of its part's loss dict, and the parts'
        terms, detached and prefixed ``human_`` / ``pseudo_``."""
        zero = next(self.inner.parameters()).new_zeros(())
        losses = {HUMAN_TERM: zero, PSEUDO_TERM: zero}
        terms = OrderedDict()
        for term in (HUMAN_TERM, PSEUDO_TERM):
            if term in raw:
                total, log_vars = self.inner.parse_losses(raw[term])
                losses[term] = total
                terms.update(
                    rename_loss_dict(
                        f'{term}_',
                        OrderedDict((k, v.detach())
                                    for k, v in log_vars.items()
                                    if k != 'loss')))
        return losses, terms

    def _combine(self,
                 losses: dict,
                 terms: dict,
                 human_valid: bool,
                 pseudo_valid: bool,
                 pseudo_scale: float = 1.,
                 extra: Optional[dict] = None) -> Dict[str, Tensor]:
        """``L`` (App. B) and the logged items: ``loss``, ``loss_human``,
        ``loss_pseudo``, their averages, ``human_weight``,
        ``pseudo_weight``, then ``extra`` (numbers) and ``terms``.

        Raises:
            NonFiniteLossError: ``L_h`` or ``L_p`` is not finite; the
                message lists the inner model's non-finite terms.
        """
        try:
            out = self.loss_norm(
                losses[HUMAN_TERM],
                losses[PSEUDO_TERM],
                human_valid=human_valid,
                pseudo_valid=pseudo_valid,
                pseudo_scale=pseudo_scale)
        except NonFiniteLossError as err:
            bad = [
                f'{k}={float(v):g}' for k, v in terms.items()
                if k.startswith(err.term) and not v.isfinite().all()
            ]
            raise NonFiniteLossError(
                err.term, err.where,
                err.detail + (f'; non-finite {self.INNER_KEY} terms: '
                              f'{", ".join(bad)}' if bad else '')) from None
        as_tensor = losses[HUMAN_TERM].detach().new_tensor
        result = OrderedDict()
        result[TOTAL_KEY] = out.total
        result['loss_human'] = losses[HUMAN_TERM].detach()
        result['loss_pseudo'] = losses[PSEUDO_TERM].detach()
        result['loss_human_avg'] = as_tensor(out.human_avg)
        result['loss_pseudo_avg'] = as_tensor(out.pseudo_avg)
        result['human_weight'] = as_tensor(out.human_weight)
        result['pseudo_weight'] = as_tensor(out.pseudo_weight)
        for key, value in (extra or {}).items():
            result[key] = as_tensor(value)
        result.update(terms)
        return result

    def parse_losses(
            self, losses: Dict[str,
                               Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The total is ``losses['loss']``; everything else is logged only.

        mmengine's ``BaseModel.parse_losses`` sums every key containing
        ``'loss'``, which would add ``loss_human``, ``loss_human_avg``... to
        the total; every mmengine train step (``BaseModel``, DDP, FSDP,
        DeepSpeed, ColossalAI wrappers) calls the model's own
        ``parse_losses``, so the total is taken from :data:`TOTAL_KEY` here.

        Returns:
            tuple[Tensor, dict]: ``L`` and the log variables (``loss`` first).
        """
        if TOTAL_KEY not in losses:
            raise KeyError(
                f'{type(self).__name__}.parse_losses: no {TOTAL_KEY!r} in '
                f'{sorted(losses)}; pass the dict returned by its loss().')
        rest = {k: v for k, v in losses.items() if k != TOTAL_KEY}
        _, log_vars = super().parse_losses(rest)  # means; its sum unused
        log_vars[TOTAL_KEY] = losses[TOTAL_KEY]
        return losses[TOTAL_KEY], log_vars

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """Accept plain model keys (``backbone.x``) by moving them under
        :attr:`INNER_KEY`; a checkpoint without ``loss_norm.*`` keys (the
        teacher's) keeps fresh averages and reports no missing key."""
        to_student_keys(state_dict, prefix, self.loss_norm, self.INNER_KEY)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
