# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The training-schedule rule of He, Girshick, Dollar 2019, as mmengine config.

He et al. 2019 ("Rethinking ImageNet Pre-training", arXiv 1811.08883), Sec. 4
("Learning rate scheduling"): a 1x schedule is 90k iterations at a total
batch of 16 images with base LR 0.02; an Nx schedule is N*90k iterations,
and the LR is always reduced by 10x "in the last 60k and the last 20k
iterations, no matter how many total iterations". The LR is linearly
warmed up (Detectron's warm-up, see below). So::

    2x: 180k iterations, LR x0.1 at 120k and 160k
    3x: 270k iterations, LR x0.1 at 210k and 250k
    6x: 540k iterations, LR x0.1 at 480k and 520k
    9x: 810k iterations, LR x0.1 at 750k and 790k

Documented choices of this implementation:

- **1x is Detectron's standard 1x** (steps 60k and 80k of 90k), not the
  "last 60k/20k" rule, which would give 30k and 70k: the rule is stated for
  the longer schedules the paper studies (2x-9x), and every 1x baseline in
  Detectron, Detectron2 and MMDetection uses 60k/80k. The rule is applied
  for ``multiple >= 2``.
- **Other batch sizes** follow the linear scaling rule (Goyal et al. 2017), as
  Detectron2 does for its 9x scratch configs at batch 64: LR x ``B/16``;
  iterations, LR steps and the default validation interval x ``16/B`` (the
  same number of *images* seen at every step). Detectron2's 9x at B=64 is
  202.5k iterations, steps 187.5k and 197.5k, LR 0.08.
- **Train loop**: :data:`TRAIN_LOOP`, i.e.
  :class:`~rethink_mmdet.engine.loops.ResumableIterBasedTrainLoop`:
  mmengine's ``IterBasedTrainLoop`` (same arguments, same batches) whose
  sampler position is saved in every checkpoint: a
  6x-9x run restarted after a preemption at iteration 500k resumes at once
  instead of loading 500k batches again. Every fragment sets it;
  a config that lists a fragment needs ``custom_imports =
  dict(imports=['rethink_mmdet'])`` (the he2019 model fragments set it).
- **Rounding**: the train loop and ``MultiStepLR`` need
  integer iterations, so every scaled iteration count is rounded to the
  nearest integer, halves up, computed exactly with fractions (e.g. 3x at
  B=24: 180000 iterations, steps 140000 and 166667 (166666.67); 9x at B=48:
  270000, steps 250000 and 263333). Each rounded value is within half an
  iteration (< B/2 images) of the exact one. For B in {8, 16, 32, 64} every
  value is already an integer.
- **Warm-up** follows Detectron: He et al. write "all other
  hyper-parameters follow those in Detectron", whose linear warm-up is 500
  iterations from a factor of 1/3 (``WARM_UP_FACTOR = 1.0 / 3.0``,
  ``WARM_UP_ITERS = 500``) -- not MMDetection's 0.001. It is not scaled with
  the batch size; the fragments carry it as the documented keys
  ``start_factor``/``end`` of their ``LinearLR``; change it with
  ``warmup_iters``/``warmup_ratio``.
- Weight decay is not applied to normalization parameters
  (``norm_decay_mult=0.``), as Detectron's ``WEIGHT_DECAY_GN = 0.0`` and
  Detectron2's ``WEIGHT_DECAY_NORM = 0.0``.

Every schedule fragment of ``configs/_base_/schedules/`` that starts with
``he_`` -- ``he_{N}x.py`` (N = 1..9, batch 16) and the small-data recipes of
Sec. 5.2 ``he_small-data_{6x,60k,220k}.py`` (which need ``base_lr``,
``gamma``, ``iters`` and ``milestones`` overrides) and the PASCAL VOC
schedules ``he_voc_{18k,144k}.py`` (steps not in the paper: Detectron2's
VOC steps for 18k, the Sec. 4 rule for 144k) -- is rendered from
:mod:`.schedule_fragments` and tested to be equal to
:func:`he_schedule`: each schedule is expressed once. Command line
(``tools/he_schedule.py``)::

    python tools/he_schedule.py --multiple 9 --batch-size 64
    python tools/he_schedule.py --multiple 6 --fragment
    python tools/he_schedule.py --write-fragments configs/_base_/schedules
"""
import math
from fractions import Fraction

from rethink_mmdet.utils import is_int

__all__ = ['SCHEDULE_CONFIG_KEYS', 'TRAIN_LOOP', 'he_schedule']

# He et al. 2019, Sec. 4: 1x = 90k iterations at batch 16, base LR 0.02.
HE_ITERS_PER_X = 90_000
HE_BASE_BATCH = 16
HE_BASE_LR = 0.02
# He et al. 2019, Sec. 4: "reduce the learning rate by 10x in the last 60k and
# the last 20k iterations" (at batch 16).
HE_LAST_STEPS = (60_000, 20_000)
# Detectron's standard 1x (used for multiple == 1): steps 60k and 80k of 90k.
DETECTRON_1X_STEPS = (60_000, 80_000)
# Detectron's linear warm-up (config.py: WARM_UP_ITERS, WARM_UP_FACTOR),
# which He et al. keep ("all other hyper-parameters follow Detectron").
DETECTRON_WARMUP_ITERS = 500
DETECTRON_WARMUP_FACTOR = 1 / 3
#: The train loop of every He et al. schedule: mmengine's
#: ``IterBasedTrainLoop`` that resumes at the saved sampler position
#: (rethink_mmdet.engine.loops) instead of replaying the trained batches.
TRAIN_LOOP = 'ResumableIterBasedTrainLoop'
# The entries of the :func:`he_schedule` dict that are mmengine config values
# (the others, ``max_iters``, ``lr``, ``milestones``, are summaries).
# Schedule keys only: hooks and logging live in runtime fragments (a
# schedule fragment that also set `default_hooks` would collide with
# mmdet's `default_runtime.py` in one `_base_` list).
SCHEDULE_CONFIG_KEYS = ('train_cfg', 'val_cfg', 'test_cfg', 'param_scheduler',
                        'optim_wrapper', 'auto_scale_lr')


def _round_half_up(value):
    """Round an exact :class:`~fractions.Fraction` to the nearest integer,
    halves up."""
    return math.floor(value + Fraction(1, 2))


def he_schedule(multiple=None,
                batch_size=HE_BASE_BATCH,
                base_lr=HE_BASE_LR,
                gamma=0.1,
                iters=None,
                milestones=None,
                warmup_iters=DETECTRON_WARMUP_ITERS,
                warmup_ratio=DETECTRON_WARMUP_FACTOR,
                val_interval=None,
                iters_per_x=None):
    """Config values of the He et al. 2019 Nx schedule at a total batch size.

    He et al. 2019, Sec. 4: ``N*90k`` iterations at batch 16, LR x0.1 at the
    last 60k and the last 20k iterations (``multiple >= 2``); ``multiple == 1``
    is Detectron's standard 1x (steps 60k and 80k). For a total batch size
    ``B`` the LR is multiplied by ``B/16`` and all iteration counts by
    ``16/B``, rounded to the nearest integer (halves up). The small-data
    recipes of Sec. 5.2 override the LR, the decay factor, the length and
    (for runs shorter than 60k) the steps.

    Args:
        multiple (int, optional): N of the Nx schedule, >= 1. Defaults to
            None: ``iters`` must be given.
        batch_size (int): Total batch size over all GPUs (GPUs x images per
            GPU). Defaults to 16.
        base_lr (float): LR at batch 16; the returned LR is
            ``base_lr * batch_size / 16``. Defaults to 0.02.
        gamma (float): LR factor at each step, in (0, 1). Defaults to 0.1.
        iters (int, optional): Length at batch 16 instead of
            ``multiple * 90k`` (e.g. 220k, Sec. 5.2). Defaults to None.
        milestones (Sequence[int], optional): The two LR steps at batch 16
            instead of the "last 60k and 20k" rule. Defaults to None.
        warmup_iters (int): Length of the linear warm-up in iterations, not
            scaled with the batch size; 0 disables it. Defaults to 500
            (Detectron's ``WARM_UP_ITERS``).
        warmup_ratio (float): LR factor at the start of the warm-up, in
            (0, 1]. Defaults to 1/3 (Detectron's ``WARM_UP_FACTOR``).
        val_interval (int, optional): Validation interval in
            iterations. Defaults to None, which means the scaled 1x length
            ``round(90000 * 16 / batch_size)``.
        iters_per_x (int, optional): A scaled-down 1x (e.g. 150 iterations
            for a CPU study): every iteration count is multiplied by
            ``iters_per_x / 90000`` instead of ``16 / batch_size``; the LR
            is still ``base_lr * batch_size / 16``. Defaults to None: the
            linear scaling rule.

    Returns:
        dict: ``'max_iters'`` (int), ``'lr'`` (float) and ``'milestones'``
        (list[int]) as summaries, plus the whole config values listed in
        :data:`SCHEDULE_CONFIG_KEYS`: ``'train_cfg'``, ``'val_cfg'``,
        ``'test_cfg'``, ``'param_scheduler'`` (the complete list: warm-up
        ``LinearLR`` when ``warmup_iters > 0``, then ``MultiStepLR``),
        ``'optim_wrapper'`` and ``'auto_scale_lr'`` (disabled: the LR is
        already scaled).

    Raises:
        TypeError: If ``multiple``, ``iters``, ``batch_size``,
            ``warmup_iters``, ``val_interval`` or a milestone is not an
            integer.
        ValueError: If neither or both of ``multiple`` and ``iters`` are
            given, ``multiple < 1``, ``batch_size < 1``, ``base_lr <= 0``,
            ``gamma`` is outside (0, 1), ``warmup_iters < 0``,
            ``warmup_ratio`` is outside (0, 1], ``val_interval < 1``, or the
            scaled steps are not strictly increasing inside
            ``(warmup_iters, max_iters)``.
    """
    total_16, steps_16 = _length_and_steps(multiple, iters, milestones)
    for name, value in (('batch_size', batch_size), ('warmup_iters',
                                                     warmup_iters)):
        if not is_int(value):
            raise TypeError(f'he_schedule: {name} must be an integer, got '
                            f'{value!r} ({type(value).__name__}).')
    if batch_size < 1:
        raise ValueError(
            f'he_schedule: batch_size={batch_size}, but the total batch size '
            '(GPUs x images per GPU) must be >= 1; He et al. use 16.')
    if not base_lr > 0:
        raise ValueError(f'he_schedule: base_lr={base_lr!r} must be > 0 '
                         '(He et al. use 0.02 at batch 16).')
    if not 0 < gamma < 1:
        raise ValueError(f'he_schedule: gamma={gamma!r} must be in (0, 1) '
                         '(He et al. use 0.1; 0.02 for the small-data runs).')
    if warmup_iters < 0 or warmup_iters == 1:
        raise ValueError(f'he_schedule: warmup_iters={warmup_iters} must be '
                         '0 (no warm-up) or >= 2: mmengine\'s LinearLR over '
                         'one iteration never rises from warmup_ratio.')
    if not 0 < warmup_ratio <= 1:
        raise ValueError(f'he_schedule: warmup_ratio={warmup_ratio!r} must '
                         'be in (0, 1] (the LR factor at iteration 0).')

    # Linear scaling rule (Goyal et al. 2017; Detectron2's 9x at batch 64):
    # iterations x 16/B, LR x B/16; or a scaled-down 1x of iters_per_x.
    if iters_per_x is None:
        scale = Fraction(HE_BASE_BATCH, batch_size)
    elif not is_int(iters_per_x) or iters_per_x < 1:
        raise ValueError(f'he_schedule: iters_per_x={iters_per_x!r} must be '
                         'an integer >= 1 (the length of 1x), or None.')
    else:
        scale = Fraction(iters_per_x, HE_ITERS_PER_X)
    max_iters = _round_half_up(total_16 * scale)
    milestones = [_round_half_up(step * scale) for step in steps_16]
    lr = base_lr * batch_size / HE_BASE_BATCH

    bounds = [warmup_iters] + milestones + [max_iters]
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(
            f'he_schedule: at batch_size={batch_size} the schedule of '
            f'{total_16} iterations at batch 16 has max_iters={max_iters} '
            f'and LR steps {milestones}, which are not strictly increasing '
            f'after warmup_iters={warmup_iters}: the batch is too large for '
            'the schedule to keep distinct steps. Use a smaller batch_size '
            'or a shorter warm-up.')

    if val_interval is None:
        val_interval = _round_half_up(HE_ITERS_PER_X * scale)
    elif not is_int(val_interval):
        raise TypeError('he_schedule: val_interval must be an integer or '
                        f'None, got {val_interval!r}.')
    elif val_interval < 1:
        raise ValueError(f'he_schedule: val_interval={val_interval} must be '
                         '>= 1 iteration.')

    param_scheduler = []
    if warmup_iters > 0:
        param_scheduler.append(
            dict(
                type='LinearLR',
                start_factor=warmup_ratio,
                by_epoch=False,
                begin=0,
                end=warmup_iters))
    param_scheduler.append(
        dict(
            type='MultiStepLR',
            begin=0,
            end=max_iters,
            by_epoch=False,
            milestones=list(milestones),
            gamma=gamma))
    return dict(
        max_iters=max_iters,
        lr=lr,
        milestones=list(milestones),
        train_cfg=dict(
            type=TRAIN_LOOP, max_iters=max_iters, val_interval=val_interval),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        param_scheduler=param_scheduler,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
            paramwise_cfg=dict(norm_decay_mult=0.)),
        auto_scale_lr=dict(enable=False, base_batch_size=batch_size))


def _length_and_steps(multiple, iters, milestones):
    """Length and LR steps at batch 16 (He et al. 2019, Sec. 4: Nx = N *
    90k iterations, LR x0.1 at (total - 60k) and (total - 20k); 1x is
    Detectron's 60k/80k)."""
    if (multiple is None) == (iters is None):
        raise ValueError(
            'he_schedule: give either multiple (an Nx schedule, N * 90k '
            'iterations at batch 16) or iters (a length at batch 16), not '
            f'{"both" if iters is not None else "neither"}.')
    for name, value in (('multiple', multiple), ('iters', iters)):
        if value is not None and not is_int(value):
            raise TypeError(f'he_schedule: {name} must be an integer, got '
                            f'{value!r} ({type(value).__name__}).')
    if multiple is not None and multiple < 1:
        raise ValueError(
            f'he_schedule: multiple={multiple}, but an Nx schedule needs '
            'N >= 1 (1x = 90k iterations at batch 16). Pass multiple=1..9.')
    total = multiple * HE_ITERS_PER_X if iters is None else iters
    if milestones is not None:
        steps = list(milestones)
        if len(steps) != 2 or not all(is_int(v) for v in steps):
            raise TypeError('he_schedule: milestones must be two integer '
                            f'iterations at batch 16, got {milestones!r}.')
    elif multiple == 1:
        steps = list(DETECTRON_1X_STEPS)
    else:
        steps = [total - last for last in HE_LAST_STEPS]
    return total, steps
