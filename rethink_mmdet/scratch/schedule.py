# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The training-schedule rule of He, Girshick, Dollar 2019, as mmengine config.

He et al. 2019 ("Rethinking ImageNet Pre-training", arXiv 1811.08883), Sec. 4
("Learning rate scheduling"): a 1x schedule is 90k iterations at a total
batch of 16 images with base LR 0.02; an Nx schedule is N*90k iterations,
and the LR is always reduced by 10x "in the last 60k and the last 20k
iterations, no matter how many total iterations". The LR is linearly
warmed up (the paper gives no length, see below). So::

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
- **Rounding**: mmengine's ``IterBasedTrainLoop`` and ``MultiStepLR`` need
  integer iterations, so every scaled iteration count is rounded to the
  nearest integer, halves up, computed exactly with fractions (e.g. 3x at
  B=24: 180000 iterations, steps 140000 and 166667 (166666.67); 9x at B=48:
  270000, steps 250000 and 263333). Each rounded value is within half an
  iteration (< B/2 images) of the exact one. For B in {8, 16, 32, 64} every
  value is already an integer.
- **Warm-up** is not specified in the paper. The default is MMDetection's
  scratch configs, 500 iterations linearly from 0.001x the LR; Detectron uses
  500 from 1/3 and Detectron2 1000 from 0.001. It is not scaled with the
  batch size; set ``warmup_iters``/``warmup_ratio`` to change it.
- Weight decay is not applied to normalization parameters
  (``norm_decay_mult=0.``), as Detectron's ``WEIGHT_DECAY_GN = 0.0`` and
  Detectron2's ``WEIGHT_DECAY_NORM = 0.0``.

The config fragments ``configs/_base_/schedules/he_{N}x.py`` (N = 1..9,
batch 16) are rendered by :func:`he_schedule_fragment` and tested to be equal
to :func:`he_schedule`. Command line::

    python -m rethink_mmdet.scratch.schedule --multiple 9 --batch-size 64
    python -m rethink_mmdet.scratch.schedule --multiple 6 --fragment
"""
import argparse
import math
import numbers
import pprint
from fractions import Fraction

__all__ = [
    'HE_ITERS_PER_X', 'HE_BASE_BATCH', 'HE_BASE_LR', 'HE_LAST_STEPS',
    'DETECTRON_1X_STEPS', 'SCHEDULE_CONFIG_KEYS', 'he_schedule',
    'he_schedule_fragment'
]

# He et al. 2019, Sec. 4: 1x = 90k iterations at batch 16, base LR 0.02.
HE_ITERS_PER_X = 90_000
HE_BASE_BATCH = 16
HE_BASE_LR = 0.02
# He et al. 2019, Sec. 4: "reduce the learning rate by 10x in the last 60k and
# the last 20k iterations" (at batch 16).
HE_LAST_STEPS = (60_000, 20_000)
# Detectron's standard 1x (used for multiple == 1): steps 60k and 80k of 90k.
DETECTRON_1X_STEPS = (60_000, 80_000)
# The entries of the :func:`he_schedule` dict that are mmengine config values
# (the others, ``max_iters``, ``lr``, ``milestones``, are summaries).
# Schedule keys only: hooks and logging live in runtime fragments (a
# schedule fragment that also set `default_hooks` would collide with
# mmdet's `default_runtime.py` in one `_base_` list).
SCHEDULE_CONFIG_KEYS = ('train_cfg', 'val_cfg', 'test_cfg', 'param_scheduler',
                        'optim_wrapper', 'auto_scale_lr')


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _round_half_up(value):
    """Round an exact :class:`~fractions.Fraction` to the nearest integer,
    halves up."""
    return math.floor(value + Fraction(1, 2))


def he_schedule(multiple,
                batch_size=HE_BASE_BATCH,
                base_lr=HE_BASE_LR,
                warmup_iters=500,
                warmup_ratio=0.001,
                val_interval=None):
    """Config values of the He et al. 2019 Nx schedule at a total batch size.

    He et al. 2019, Sec. 4: ``N*90k`` iterations at batch 16, LR x0.1 at the
    last 60k and the last 20k iterations (``multiple >= 2``); ``multiple == 1``
    is Detectron's standard 1x (steps 60k and 80k). For a total batch size
    ``B`` the LR is multiplied by ``B/16`` and all iteration counts by
    ``16/B``, rounded to the nearest integer (halves up).

    Args:
        multiple (int): N of the Nx schedule, >= 1.
        batch_size (int): Total batch size over all GPUs (GPUs x images per
            GPU). Defaults to 16.
        base_lr (float): LR at batch 16; the returned LR is
            ``base_lr * batch_size / 16``. Defaults to 0.02.
        warmup_iters (int): Length of the linear warm-up in iterations, not
            scaled with the batch size; 0 disables it. Defaults to 500.
        warmup_ratio (float): LR factor at the start of the warm-up, in
            (0, 1]. Defaults to 0.001.
        val_interval (int, optional): Validation interval in
            iterations. Defaults to None, which means the scaled 1x length
            ``round(90000 * 16 / batch_size)``.

    Returns:
        dict: ``'max_iters'`` (int), ``'lr'`` (float) and ``'milestones'``
        (list[int]) as summaries, plus the whole config values listed in
        :data:`SCHEDULE_CONFIG_KEYS`: ``'train_cfg'``, ``'val_cfg'``,
        ``'test_cfg'``, ``'param_scheduler'`` (the complete list: warm-up
        ``LinearLR`` when ``warmup_iters > 0``, then ``MultiStepLR``),
        ``'optim_wrapper'`` and ``'auto_scale_lr'`` (disabled: the LR is
        already scaled).

    Raises:
        TypeError: If ``multiple``, ``batch_size``, ``warmup_iters`` or
            ``val_interval`` is not an integer.
        ValueError: If ``multiple < 1``, ``batch_size < 1``, ``base_lr <= 0``,
            ``warmup_iters < 0``, ``warmup_ratio`` is outside (0, 1],
            ``val_interval < 1``, or the scaled steps are not strictly
            increasing inside ``(warmup_iters, max_iters)``.
    """
    for name, value in (('multiple', multiple), ('batch_size', batch_size),
                        ('warmup_iters', warmup_iters)):
        if not _is_int(value):
            raise TypeError(f'he_schedule: {name} must be an integer, got '
                            f'{value!r} ({type(value).__name__}).')
    if multiple < 1:
        raise ValueError(
            f'he_schedule: multiple={multiple}, but an Nx schedule needs '
            'N >= 1 (1x = 90k iterations at batch 16). Pass multiple=1..9.')
    if batch_size < 1:
        raise ValueError(
            f'he_schedule: batch_size={batch_size}, but the total batch size '
            '(GPUs x images per GPU) must be >= 1; He et al. use 16.')
    if not base_lr > 0:
        raise ValueError(f'he_schedule: base_lr={base_lr!r} must be > 0 '
                         '(He et al. use 0.02 at batch 16).')
    if warmup_iters < 0:
        raise ValueError(f'he_schedule: warmup_iters={warmup_iters} must be '
                         '>= 0 (0 disables the warm-up).')
    if not 0 < warmup_ratio <= 1:
        raise ValueError(f'he_schedule: warmup_ratio={warmup_ratio!r} must '
                         'be in (0, 1] (the LR factor at iteration 0).')

    # He et al. 2019, Sec. 4: Nx = N * 90k iterations at batch 16, LR x0.1
    # at (total - 60k) and (total - 20k); 1x is Detectron's 60k/80k.
    total_16 = multiple * HE_ITERS_PER_X
    if multiple == 1:
        steps_16 = list(DETECTRON_1X_STEPS)
    else:
        steps_16 = [total_16 - last for last in HE_LAST_STEPS]
    # Linear scaling rule (Goyal et al. 2017; Detectron2's 9x at batch 64):
    # iterations x 16/B, LR x B/16.
    scale = Fraction(HE_BASE_BATCH, batch_size)
    max_iters = _round_half_up(total_16 * scale)
    milestones = [_round_half_up(step * scale) for step in steps_16]
    lr = base_lr * batch_size / HE_BASE_BATCH

    bounds = [warmup_iters] + milestones + [max_iters]
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(
            f'he_schedule: at batch_size={batch_size} the {multiple}x '
            f'schedule has max_iters={max_iters} and LR steps {milestones}, '
            f'which are not strictly increasing after warmup_iters='
            f'{warmup_iters}: the batch is too large for the schedule to '
            'keep distinct steps. Use a smaller batch_size or a shorter '
            'warm-up.')

    if val_interval is None:
        val_interval = _round_half_up(HE_ITERS_PER_X * scale)
    elif not _is_int(val_interval):
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
            gamma=0.1))
    return dict(
        max_iters=max_iters,
        lr=lr,
        milestones=list(milestones),
        train_cfg=dict(
            type='IterBasedTrainLoop',
            max_iters=max_iters,
            val_interval=val_interval),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        param_scheduler=param_scheduler,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(
                type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
            paramwise_cfg=dict(norm_decay_mult=0.)),
        auto_scale_lr=dict(enable=False, base_batch_size=batch_size))


_FRAGMENT = """\
# He et al. 2019 ("Rethinking ImageNet Pre-training"), Sec. 4: an Nx schedule
# is N*90k iterations at batch 16, with the LR x0.1 at the last 60k and the
# last 20k iterations (1x: Detectron's standard steps 60k, 80k instead).
# {name}: {max_iters} iterations at batch {batch_size}, lr {lr!r}, LR x0.1 at \
{m1} and {m2};
# warm-up {warmup}.
# Rendered by rethink_mmdet.scratch.schedule.he_schedule_fragment(); the test
# tests/scratch/test_schedule.py checks it against he_schedule().
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters={max_iters}, \
val_interval={val_interval})
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
{warmup_cfg}    dict(
        type='MultiStepLR',
        begin=0,
        end={max_iters},
        by_epoch=False,
        milestones=[{m1}, {m2}],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr={lr!r}, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
# The LR above is already scaled to the batch size.
auto_scale_lr = dict(enable=False, base_batch_size={batch_size})
"""


def he_schedule_fragment(multiple, **kwargs):
    """Render :func:`he_schedule` as the text of an mmengine config fragment.

    This is how ``configs/_base_/schedules/he_{N}x.py`` are written; the
    tests check that every file equals this text.

    Args:
        multiple (int): N of the Nx schedule, >= 1.
        **kwargs: The other arguments of :func:`he_schedule`.

    Returns:
        str: Python source of the config fragment.
    """
    sched = he_schedule(multiple, **kwargs)
    batch_size = sched['auto_scale_lr']['base_batch_size']
    warmup = [s for s in sched['param_scheduler'] if s['type'] == 'LinearLR']
    if warmup:
        w = warmup[0]
        warmup_text = (f'{w["end"]} iterations, linear from '
                       f'{w["start_factor"]!r}x the LR')
        warmup_cfg = (f"    dict(type='LinearLR', start_factor="
                      f"{w['start_factor']!r}, by_epoch=False,\n"
                      f"         begin=0, end={w['end']}),\n")
    else:
        warmup_text, warmup_cfg = 'none', ''
    m1, m2 = sched['milestones']
    return _FRAGMENT.format(
        name=f'{multiple}x',
        max_iters=sched['max_iters'],
        batch_size=batch_size,
        lr=sched['lr'],
        m1=m1,
        m2=m2,
        warmup=warmup_text,
        warmup_cfg=warmup_cfg,
        val_interval=sched['train_cfg']['val_interval'])


def main(argv=None):
    """Print :func:`he_schedule` (or, with ``--fragment``, the config file).

    Args:
        argv (list[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        description='He et al. 2019 Nx schedule (N*90k iterations at batch '
        '16, LR x0.1 at the last 60k and 20k iterations).')
    parser.add_argument('--multiple', type=int, required=True, help='N')
    parser.add_argument('--batch-size', type=int, default=HE_BASE_BATCH)
    parser.add_argument('--base-lr', type=float, default=HE_BASE_LR)
    parser.add_argument('--warmup-iters', type=int, default=500)
    parser.add_argument('--warmup-ratio', type=float, default=0.001)
    parser.add_argument('--val-interval', type=int, default=None)
    parser.add_argument(
        '--fragment',
        action='store_true',
        help='print an mmengine config fragment instead of the dict')
    args = parser.parse_args(argv)
    kwargs = dict(
        batch_size=args.batch_size,
        base_lr=args.base_lr,
        warmup_iters=args.warmup_iters,
        warmup_ratio=args.warmup_ratio,
        val_interval=args.val_interval)
    try:
        if args.fragment:
            print(he_schedule_fragment(args.multiple, **kwargs), end='')
        else:
            pprint.pprint(he_schedule(args.multiple, **kwargs),
                          sort_dicts=False)
    except (TypeError, ValueError) as e:
        parser.error(str(e))


if __name__ == '__main__':
    main()
