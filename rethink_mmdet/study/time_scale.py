"""A paper's length-like constants in a miniature of its schedule.

A miniature keeps a paper's schedule *relative to its run*: when a 90k
iteration 1x becomes 150 iterations, every constant that is a length in
iterations shrinks by the same factor, or the miniature changes the
method. He et al. 2019 (Sec. 4) step the LR at the last 60k and 20k of
each ``N x 90k`` run after Detectron's 500-iteration warm-up; Zoph et al.
2020 (Sec. 3.1 [V]) warm up over the first 1000 of 5.6k-120k iterations
and decay the LR by a cosine to the run's end, and their loss
normalization (App. B [V]) averages the losses with an exponential moving
average of decay 0.9997: a horizon of ``1 / (1 - 0.9997) = 3333``
iterations, 3-7% of the paper's self-training runs. A fixed decay in a run
of a few hundred iterations would average over more than the whole run.

:class:`TimeScale` is the one place that maps them: iteration counts by
the factor ``iters / paper_iters`` (halves rounded up, at least 1), and an
EMA decay ``d`` through its horizon ``1 / (1 - d)``, which is a length::

    he = TimeScale(paper_iters=90000, iters=150)     # He et al.'s 1x
    he.schedule_he(6, batch_size=4, base_lr=0.12)    # steps and warm-up
    he.warmup(500)       # 0.83 iterations: 2, the shortest LinearLR
    zoph = TimeScale(paper_iters=45000, iters=150)   # Zoph et al.'s 45k
    zoph.schedule_cosine(120000)                     # the 120k arm
    zoph.decay(0.9997)   # 1 - 1 / (3333.3 * 150 / 45000) = 0.91
"""
import math
from fractions import Fraction
from typing import Optional

from ..scratch.schedule import (DETECTRON_WARMUP_FACTOR,
                                DETECTRON_WARMUP_ITERS, HE_ITERS_PER_X,
                                he_schedule)

__all__ = ['TimeScale', 'ZOPH_WARMUP_ITERS', 'ZOPH_WARMUP_FACTOR']

#: Zoph et al. 2020, Sec. 3.1 [V]: "linear warm-up over the first 1000
#: steps from 0.0032" (LR 0.32: a factor of 0.01).
ZOPH_WARMUP_ITERS = 1000
ZOPH_WARMUP_FACTOR = 0.01


class TimeScale:
    """Maps a paper's iteration counts and EMA decays to a miniature's.

    Args:
        paper_iters (int): A length in the paper's iterations (e.g. He et
            al.'s 1x, 90000).
        iters (int): The same length in the miniature's iterations.
    """

    def __init__(self, paper_iters: int, iters: int) -> None:
        for name, value in (('paper_iters', paper_iters), ('iters', iters)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'TimeScale: {name}={value!r} must be an '
                                 'integer >= 1')
        self.factor = Fraction(iters, paper_iters)

    def iters(self, paper_iters: float) -> int:
        """``paper_iters`` in the miniature (halves up, at least 1)."""
        return max(
            1,
            math.floor(Fraction(paper_iters) * self.factor + Fraction(1, 2)))

    def warmup(self, paper_iters: int) -> int:
        """A linear warm-up of ``paper_iters`` in the miniature: 0 where it
        scales to under half an iteration, else at least 2 iterations
        (mmengine's ``LinearLR`` over ``[0, end)`` reaches its end factor
        at iteration ``end - 1``: with ``end = 1`` it never rises, and the
        schedulers after it keep the start factor for the whole run)."""
        n = math.floor(Fraction(paper_iters) * self.factor + Fraction(1, 2))
        return 0 if n == 0 else max(2, n)

    def decay(self, paper_decay: float) -> float:
        """The EMA decay whose horizon ``1 / (1 - d)`` is the paper's horizon
        scaled like an iteration count (0 where it is under one iteration:
        the average is then the last value)."""
        if not 0 <= paper_decay < 1:
            raise ValueError(f'TimeScale.decay: {paper_decay!r} is not in '
                             '[0, 1)')
        horizon = float(self.factor) / (1. - paper_decay)
        return 1. - 1. / horizon if horizon > 1 else 0.

    def schedule_he(self, multiple: int, batch_size: int, base_lr: float,
                    **kwargs) -> dict:
        """He et al.'s ``multiple``-x schedule (``he_schedule``) with 1x and
        the warm-up scaled; ``kwargs`` go to ``he_schedule`` (its
        ``base_lr`` is the LR at batch 16)."""
        kwargs.setdefault('warmup_iters', self.warmup(DETECTRON_WARMUP_ITERS))
        kwargs.setdefault('warmup_ratio', DETECTRON_WARMUP_FACTOR)
        return he_schedule(
            multiple=multiple,
            batch_size=batch_size,
            base_lr=base_lr,
            iters_per_x=self.iters(HE_ITERS_PER_X),
            **kwargs)

    def schedule_cosine(self,
                        paper_iters: int,
                        val_interval: Optional[int] = None,
                        paper_warmup: int = ZOPH_WARMUP_ITERS,
                        warmup_factor: float = ZOPH_WARMUP_FACTOR) -> dict:
        """Zoph et al.'s schedule of a ``paper_iters`` arm: linear warm-up
        from ``warmup_factor`` (1%) over the scaled ``paper_warmup`` (1000,
        the detection runs; the released PASCAL configs: 500 from LR 0.001
        of 0.08), then a cosine to 0 at the end (tensorflow/tpu
        ``cosine_learning_rate_with_linear_warmup``).

        Returns:
            dict: ``max_iters``, ``train_cfg`` (the resumable iteration
            loop, evaluated every ``val_interval``, default the end) and
            ``param_scheduler``.
        """
        max_iters = self.iters(paper_iters)
        warmup = self.warmup(paper_warmup)
        if warmup >= max_iters:  # a run as short as the warm-up: none
            warmup = 0
        schedulers = [
            dict(
                type='CosineAnnealingLR',
                eta_min=0.,
                by_epoch=False,
                begin=warmup,
                end=max_iters,
                T_max=max_iters - warmup)
        ]
        if warmup > 0:
            schedulers.insert(
                0,
                dict(
                    type='LinearLR',
                    start_factor=warmup_factor,
                    by_epoch=False,
                    begin=0,
                    end=warmup))
        return dict(
            max_iters=max_iters,
            train_cfg=dict(
                type='ResumableIterBasedTrainLoop',
                max_iters=max_iters,
                val_interval=val_interval or max_iters),
            param_scheduler=schedulers)
