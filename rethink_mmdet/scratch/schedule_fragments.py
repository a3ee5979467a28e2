"""The ``configs/_base_/schedules/he_*.py`` fragments, rendered from
:func:`~.schedule.he_schedule` (He et al. 2019, Sec. 4 and 5.2: the Nx rule,
the small-data and PASCAL VOC schedules), so that every fragment is the
rule's output and ``tests/scratch/test_schedule.py`` can check each file
against it (``tools/he_schedule.py --write-fragments`` rewrites them).
"""
import os.path as osp

from .schedule import DETECTRON_WARMUP_FACTOR, he_schedule

__all__ = [
    'FRAGMENTS', 'he_schedule_fragment', 'fragment_text', 'write_fragments'
]


def _scheduler_text(sched):
    """The ``param_scheduler`` list of a fragment, as config source."""
    lines = []
    for s in sched['param_scheduler']:
        if s['type'] == 'LinearLR':
            factor = ('1 / 3' if s['start_factor'] == DETECTRON_WARMUP_FACTOR
                      else repr(s['start_factor']))
            lines.append(
                '    # warm-up: Detectron\'s WARM_UP_ITERS / WARM_UP_FACTOR\n'
                "    dict(\n        type='LinearLR', "
                f"start_factor={factor}, by_epoch=False, begin=0, "
                f"end={s['end']}),")
        else:
            m1, m2 = s['milestones']
            lines.append(
                "    dict(\n        type='MultiStepLR',\n        begin=0,\n"
                f"        end={s['end']},\n        by_epoch=False,\n"
                f'        milestones=[{m1}, {m2}],\n'
                f"        gamma={s['gamma']!r})")
    return '\n'.join(lines)


_HE_RULE = """\
# He et al. 2019 ("Rethinking ImageNet Pre-training"), Sec. 4: an Nx schedule
# is N*90k iterations at batch 16, with the LR x0.1 at the last 60k and the
# last 20k iterations (1x: Detectron's standard steps 60k, 80k instead).
"""

_FRAGMENT = """\
{comment}\
# {name}: {max_iters} iterations at batch {batch_size}, lr {lr!r}, \
LR x{gamma!r} at
# {m1} and {m2}; warm-up {warmup}
# (Detectron's, which He et al. keep).
# Rendered by rethink_mmdet.scratch.schedule_fragments (tools/he_schedule.py);
# tests/scratch/test_schedule.py checks it against he_schedule().
# The resumable loop (rethink_mmdet.engine.loops): a restart continues at
# the saved sampler position, without loading the trained batches again.
train_cfg = dict(
    type='{train_loop}', max_iters={max_iters}, \
val_interval={val_interval})
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
{scheduler}
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr={lr!r}, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.))
# The LR above is already scaled to the batch size.
auto_scale_lr = dict(enable=False, base_batch_size={batch_size})
"""

_SMALL_DATA = """\
# He et al. 2019, Sec. 5.2 ("less data"): lr 0.04 at batch 16 and the LR
# decay factor 0.02 (used here as the factor of both LR steps); the scale
# augmentation [512, 800] is in the configs.
"""

_VOC = """\
# He et al. 2019, PASCAL VOC (pre-trained 82.7 vs random init 77.6 mAP):
# VOC 2007+2012 trainval at batch 16, lr 0.02 and LR x0.1 as on COCO.
"""

#: Every ``configs/_base_/schedules/he_*.py``: file stem -> (the
#: :func:`he_schedule` arguments, the comment on what the paper says).
FRAGMENTS = {
    **{
        f'he_{n}x': (dict(multiple=n), _HE_RULE)
        for n in range(1, 10)
    },
    'he_small-data_6x':
    (dict(multiple=6, base_lr=0.04, gamma=0.02), _SMALL_DATA +
     '# 35k images, 6x (both inits reach 36.3 AP); the steps follow the\n'
     '# "last 60k and 20k iterations" rule of Sec. 4.\n'),
    'he_small-data_220k':
    (dict(iters=220_000, base_lr=0.04, gamma=0.02,
          val_interval=20_000), _SMALL_DATA +
     '# 10k images from random init: 220k iterations (25.9 AP); the steps\n'
     '# follow the "last 60k and 20k iterations" rule of Sec. 4.\n'),
    'he_small-data_60k':
    (dict(
        iters=60_000,
        milestones=(40_000, 53_333),
        base_lr=0.04,
        gamma=0.02,
        val_interval=20_000), _SMALL_DATA +
     '# 10k images fine-tuned from ImageNet: 60k iterations (26.0 AP). The\n'
     '# "last 60k/20k" rule cannot apply to a 60k run: the steps\n'
     '# (assumption) keep Detectron\'s 1x proportions, 2/3 and 8/9.\n'),
    'he_voc_18k':
    (dict(iters=18_000, milestones=(12_000, 16_000),
          val_interval=6_000), _VOC +
     '# Fine-tuned from ImageNet: 18k iterations (82.7 mAP). The steps are\n'
     '# not in our paper notes: Detectron2\'s PascalVOC-Detection config\n'
     '# (18k iterations, steps 12k and 16k, lr 0.02 at batch 16).\n'),
    'he_voc_144k':
    (dict(iters=144_000, val_interval=18_000),
     _VOC + '# From random init: 144k iterations (77.6 mAP). The steps are\n'
     '# not in our paper notes: the "last 60k and 20k iterations" rule of\n'
     '# Sec. 4 (assumption).\n'),
}


def he_schedule_fragment(multiple=None, name=None, comment=_HE_RULE, **kwargs):
    """Render :func:`he_schedule` as the text of an mmengine config fragment.

    This is how ``configs/_base_/schedules/he_*.py`` are written (see
    :data:`FRAGMENTS` and :func:`write_fragments`); the tests check that
    every file equals this text.

    Args:
        multiple (int, optional): N of the Nx schedule. Defaults to None
            (then ``iters`` is required).
        name (str, optional): What the summary line calls the schedule.
            Defaults to None: ``'{N}x'``, or ``'{iters}'`` iterations.
        comment (str): Comment lines on the paper's recipe, put first.
            Defaults to the Sec. 4 rule.
        **kwargs: The other arguments of :func:`he_schedule`.

    Returns:
        str: Python source of the config fragment.
    """
    sched = he_schedule(multiple, **kwargs)
    warmup = [s for s in sched['param_scheduler'] if s['type'] == 'LinearLR']
    if warmup:
        factor = warmup[0]['start_factor']
        shown = '1/3' if factor == DETECTRON_WARMUP_FACTOR else repr(factor)
        warmup_text = (f'{warmup[0]["end"]} iterations, linear from '
                       f'{shown}x the LR')
    else:
        warmup_text = 'none'
    m1, m2 = sched['milestones']
    return _FRAGMENT.format(
        comment=comment,
        name=name or (f'{multiple}x' if multiple is not None else
                      f'{kwargs["iters"] // 1000}k'),
        max_iters=sched['max_iters'],
        batch_size=sched['auto_scale_lr']['base_batch_size'],
        lr=sched['lr'],
        gamma=sched['param_scheduler'][-1]['gamma'],
        m1=m1,
        m2=m2,
        warmup=warmup_text,
        scheduler=_scheduler_text(sched),
        train_loop=sched['train_cfg']['type'],
        val_interval=sched['train_cfg']['val_interval'])


def fragment_text(stem):
    """The text of fragment ``stem`` of :data:`FRAGMENTS`."""
    kwargs, comment = FRAGMENTS[stem]
    return he_schedule_fragment(comment=comment, **kwargs)


def write_fragments(out_dir):
    """(Re)write every fragment of :data:`FRAGMENTS` into ``out_dir``.

    Args:
        out_dir (str): Usually ``configs/_base_/schedules``.

    Returns:
        list[str]: The paths written.
    """
    paths = []
    for stem in FRAGMENTS:
        path = osp.join(out_dir, f'{stem}.py')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(fragment_text(stem))
        paths.append(path)
    return paths
