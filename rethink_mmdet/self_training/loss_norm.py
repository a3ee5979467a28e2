# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Loss normalization of the self-training student (Zoph et al. 2020).

Zoph, Ghiasi, Lin, Cui, Liu, Cubuk, Le 2020 ("Rethinking Pre-training and
Self-training", arXiv 2006.06882), App. B [V]: "L = 1/(1+a) (L_h + a (Lbar_h
/ Lbar_p) L_p), where L_h, L_p, Lbar_h and Lbar_p are human loss, pseudo loss
and their respective moving averages over training. All moving averages are
an exponential moving average with a decay rate of 0.9997." The plain joint
loss is ``L_h + a * L_p``. The formula with its ``1/(1+a)`` factor [V], the
decay 0.9997 [V] and ``a`` (``pseudo_weight``; App. H gives it per arm, 0.25
to 3.0 [V]) are config keys of :class:`LossNormalizer`. Not stated in the
paper [U], and therefore stated here: what the averages start from, whether
the current batch is in its own average, and how the ranks are combined.

Update rule, step ``t`` (one call of :meth:`LossNormalizer.forward` in
training mode, normally one per iteration):

1. ``x_h(t)``: the mean over the ranks whose batch has a human part of their
   detached ``L_h``; ``x_p(t)`` likewise over the ranks whose pseudo part has
   at least one box (one all-reduce of 6 numbers per step, so every rank gets
   the same averages and factors) [U].
2. Averages updated **before** the factor is computed (the current batch is
   part of its own average) [U], with ``d`` the decay (App. B: 0.9997 [V])::

       Lbar(t) = x(t)                              at the term's first update
       Lbar(t) = d * Lbar(t-1) + (1 - d) * x(t)    afterwards

   Start [U]: each average starts from its term's first valid value, not
   from zero, and has no bias correction (none is needed: there is no zero
   to correct). Before that first update the average does not exist (its
   buffer holds 0 and its count is 0). A step without a valid value of a
   term (no human image on any rank; no pseudo box on any rank) leaves that
   term's average and count as they are. With ``d = 0.9997`` the first value
   keeps the weight ``d ** n`` after ``n`` further updates: 0.74 after 1,000,
   0.05 after 10,000 (a horizon ``1 / (1 - d)`` of 3,333 updates), so a
   schedule much shorter than that needs a smaller decay.
3. ``r = Lbar_h(t) / max(Lbar_p(t), eps)``; ``r = 1`` until both averages
   have had an update (e.g. a first step without a human part), or when
   ``normalize=False``. ``c = 1/(1+a)`` (1 when ``overall_factor=False`` or
   ``normalize=False``) and ``L = c * L_h + c * a * r * s * L_p`` with ``s``
   the pseudo-loss scale given by the caller (1 unless the student weights
   by teacher scores). The factors are plain numbers: no gradient flows
   through the averages.

A term that is absent (no human images, a pseudo part without boxes) enters
as ``0 * L`` (still in the autograd graph, see
:class:`~.student.SelfTrainingDetector`). A non-finite ``L_h`` or ``L_p`` on
any rank raises :class:`NonFiniteLossError` on every rank.
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
from mmengine import dist
from mmengine.logging import MessageHub
from torch import Tensor, nn

from mmdet.registry import MODELS

__all__ = [
    'HUMAN_TERM', 'PSEUDO_TERM', 'PAPER_DECAY', 'NonFiniteLossError',
    'NormalizedLoss', 'LossNormalizer'
]

#: Names of the two terms, in messages and logged keys.
HUMAN_TERM = 'human'
PSEUDO_TERM = 'pseudo'
_TERM_SYMBOL = {HUMAN_TERM: 'L_h', PSEUDO_TERM: 'L_p'}


class NonFiniteLossError(FloatingPointError):
    """A human or pseudo loss of the student is NaN or infinite.

    Args:
        term (str): :data:`HUMAN_TERM` or :data:`PSEUDO_TERM`.
        where (str): The iteration, e.g. ``'training iteration 13'``.
        detail (str): What else is known (value on this rank, ranks).
    """

    def __init__(self, term: str, where: str, detail: str = '') -> None:
        self.term = term
        self.where = where
        self.detail = detail
        super().__init__(
            f'Self-training student: the {term}-label loss '
            f'{_TERM_SYMBOL.get(term, term)} is not finite at {where}'
            f'{" (" + detail + ")" if detail else ""}. Training stops rather '
            'than skip the step: the moving averages of the loss '
            'normalization (Zoph et al. 2020, App. B) would be poisoned. '
            'Check the labels of that part (boxes, sizes, scores), lower '
            'pseudo_weight or the learning rate, or clip gradients '
            '(optim_wrapper.clip_grad).')


@dataclass
class NormalizedLoss:
    """The output of :meth:`LossNormalizer.forward`.

    Args:
        total (Tensor): ``L``, with the gradient of both terms.
        human_weight (float): The factor multiplying ``L_h`` (0 if absent).
        pseudo_weight (float): The factor multiplying ``L_p`` (0 if absent).
        human_avg (float): ``Lbar_h`` after this step.
        pseudo_avg (float): ``Lbar_p`` after this step.
    """
    total: Tensor
    human_weight: float
    pseudo_weight: float
    human_avg: float
    pseudo_avg: float


def _current_iteration() -> str:
    """The runner's iteration (1-based, as the log prints it), if known."""
    it = MessageHub.get_current_instance().get_info('iter')
    return '' if it is None else f'training iteration {int(it) + 1}, '


#: App. B [V]: "an exponential moving average with a decay rate of 0.9997".
PAPER_DECAY = 0.9997


@MODELS.register_module()
class LossNormalizer(nn.Module):
    """Normalize the pseudo loss by the human/pseudo moving-average ratio.

    Zoph et al. 2020, App. B [V]: ``L = 1/(1+a) * (L_h + a * Lbar_h /
    Lbar_p * L_p)``, ``Lbar`` an exponential moving average with decay
    0.9997; the update rule and what the averages start from are in the
    module docstring. The state lives in buffers, so it is saved in the
    model's ``state_dict`` (thus in checkpoints) and restored on resume:
    ``human_avg``, ``pseudo_avg`` (float64), ``human_count``,
    ``pseudo_count`` (updates each average has had; 0 = not started) and
    ``num_steps`` (training calls). The hyper-parameters are not in the
    ``state_dict`` (renaming ``momentum`` to ``decay`` changed no checkpoint
    key). Averages are updated only in training mode.

    Args:
        pseudo_weight (float): ``a``, the weight of the pseudo loss (App. H
            [V]: 0.25 to 3.0 depending on the arm; the value of each arm is
            set by its config). Defaults to 1.0.
        decay (float): ``d`` of ``Lbar <- d * Lbar + (1 - d) * x``, in
            ``[0, 1)``: the weight of the *old* average, the paper's "decay
            rate" (mmengine's ``ExponentialMovingAverage`` and torch's BN
            call ``1 - d`` their ``momentum``). App. B [V]: 0.9997. A
            schedule much shorter than ``1 / (1 - d)`` (3,333) updates
            needs a smaller value. Defaults to 0.9997.
        normalize (bool): Use the ratio ``Lbar_h / Lbar_p``. False gives the
            paper's plain joint loss ``L_h + a * L_p`` (the averages are still
            tracked and logged). Defaults to True.
        overall_factor (bool): The ``1/(1+a)`` factor of the normalized
            loss (App. B [V]); False gives ``L_h + a * Lbar_h / Lbar_p *
            L_p``, which is not the paper's. No effect when
            ``normalize=False``. Defaults to True.
        eps (float): Lower bound of ``Lbar_p`` in the ratio. Defaults to
            1e-8.
        momentum (float, optional): Removed; the former name of ``decay``
            (same meaning: ``momentum=0.99`` is ``decay=0.99``). Any value
            raises a TypeError that names ``decay``. Defaults to None.
    """

    def __init__(self,
                 pseudo_weight: float = 1.0,
                 decay: float = PAPER_DECAY,
                 normalize: bool = True,
                 overall_factor: bool = True,
                 eps: float = 1e-8,
                 momentum: Optional[float] = None) -> None:
        super().__init__()
        if momentum is not None:
            raise TypeError(
                f'LossNormalizer: momentum={momentum!r} is no longer a key; '
                'it was renamed decay, the word of Zoph et al. 2020, App. B '
                '("an exponential moving average with a decay rate of '
                '0.9997"), with the same meaning (the weight of the old '
                f'average). Write decay={momentum!r} in loss_norm, or drop '
                f'the key for the paper\'s {PAPER_DECAY}.')
        for name, value, ok, rule in (
            ('pseudo_weight', pseudo_weight, lambda v: v >= 0, '>= 0'),
            ('decay', decay, lambda v: 0 <= v < 1, 'in [0, 1)'),
            ('eps', eps, lambda v: v > 0, '> 0'),
        ):
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and ok(value)):
                raise ValueError(
                    f'LossNormalizer: {name}={value!r} must be a finite '
                    f'number {rule} (Zoph et al. 2020, App. B).')
        self.pseudo_weight = float(pseudo_weight)
        self.decay = float(decay)
        self.normalize = bool(normalize)
        self.overall_factor = bool(overall_factor)
        self.eps = float(eps)
        for term in (HUMAN_TERM, PSEUDO_TERM):
            self.register_buffer(f'{term}_avg',
                                 torch.zeros((), dtype=torch.float64))
            self.register_buffer(f'{term}_count',
                                 torch.zeros((), dtype=torch.long))
        self.register_buffer('num_steps', torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return (f'pseudo_weight={self.pseudo_weight}, decay={self.decay}, '
                f'normalize={self.normalize}, '
                f'overall_factor={self.overall_factor}, eps={self.eps}')

    def _state(self) -> Tensor:
        return torch.stack([
            self.human_avg, self.pseudo_avg,
            self.human_count.double(),
            self.pseudo_count.double(),
            self.num_steps.double()
        ])

    def _update(self, term: str, old: float, count: float,
                value: float) -> float:
        """One step of ``Lbar`` (first update: the value itself)."""
        # Zoph et al. 2020, App. B: EMA with decay d (0.9997)
        new = value if count == 0 else \
            self.decay * old + (1. - self.decay) * value
        getattr(self, f'{term}_avg').fill_(new)
        getattr(self, f'{term}_count').add_(1)
        return new

    def forward(self,
                loss_human: Tensor,
                loss_pseudo: Tensor,
                human_valid: bool = True,
                pseudo_valid: bool = True,
                pseudo_scale: float = 1.0) -> NormalizedLoss:
        """Combine the two losses (and, in training, update the averages).

        Every rank must call it the same number of times (one all-reduce
        per training call when ``torch.distributed`` is initialized).

        Args:
            loss_human (Tensor): Scalar ``L_h`` (a zero when absent).
            loss_pseudo (Tensor): Scalar ``L_p`` (a zero when absent).
            human_valid (bool): This rank's batch has a human part. Defaults
                to True.
            pseudo_valid (bool): This rank's pseudo part has a box. Defaults
                to True.
            pseudo_scale (float): Extra factor on ``L_p`` (teacher-score
                weighting), not part of the averages. Defaults to 1.0.

        Returns:
            NormalizedLoss: ``L`` and the factors and averages used.

        Raises:
            NonFiniteLossError: ``L_h`` or ``L_p`` is NaN/inf on some rank.
        """
        terms = {
            HUMAN_TERM: (loss_human, bool(human_valid)),
            PSEUDO_TERM: (loss_pseudo, bool(pseudo_valid))
        }
        local = []
        for loss, valid in terms.values():
            value = loss.detach().double().reshape(())
            finite = torch.isfinite(value)
            local += [
                torch.where(finite, value, 0.) * float(valid),
                value.new_tensor(float(valid)), (~finite).double()
            ]
        stats = torch.stack(local)  # per term: sum, count, non-finite
        if self.training:
            dist.all_reduce(stats, op='sum')
        values = torch.cat([stats, self._state().to(stats)]).tolist()
        h_sum, h_n, h_bad, p_sum, p_n, p_bad = values[:6]
        h_avg, p_avg, h_count, p_count, step = values[6:]
        if self.training:
            step += 1
        for term, bad in ((HUMAN_TERM, h_bad), (PSEUDO_TERM, p_bad)):
            if bad:
                loss = terms[term][0]
                world = dist.get_world_size()
                raise NonFiniteLossError(
                    term, f'{_current_iteration()}loss normalizer step '
                    f'{int(step)}',
                    f'{float(loss.detach().float()):g} on this rank' +
                    (f', non-finite on {int(bad)} of {world} ranks'
                     if world > 1 else ''))
        if self.training:  # the averages first, then the factor
            self.num_steps.add_(1)
            if h_n > 0:
                h_avg = self._update(HUMAN_TERM, h_avg, h_count, h_sum / h_n)
                h_count += 1
            if p_n > 0:
                p_avg = self._update(PSEUDO_TERM, p_avg, p_count, p_sum / p_n)
                p_count += 1
        a = self.pseudo_weight
        factor, ratio = 1., 1.
        if self.normalize:
            if self.overall_factor:
                factor = 1. / (1. + a)
            if h_count > 0 and p_count > 0:
                ratio = h_avg / max(p_avg, self.eps)
        w_h = factor if human_valid else 0.
        w_p = factor * a * ratio * float(pseudo_scale) if pseudo_valid else 0.
        total = w_h * loss_human + w_p * loss_pseudo
        return NormalizedLoss(total, w_h, w_p, h_avg, p_avg)
