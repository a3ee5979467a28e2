"""Checks of a study config across its arms (:mod:`.validate` checks
each arm alone): every ``init_arm``, ``teacher_arm``, ``counterpart`` and
``gain_over`` names an arm of the right kind, no arm needs itself through
a cycle, and a reference's stated gain agrees with its two values (the
papers' tables give both). Each mistake a
:class:`~.schema.StudyConfigError` naming the key, the problem and the fix.
"""
from typing import List

from .schema import TRAIN, Arm, Study, fail

__all__ = ['check_links', 'check_gains']


def _check_init(arm: Arm, by_name: dict, at: str) -> None:
    init = by_name[arm.init_arm]
    if init.kind != TRAIN:
        fail(at, f'init_arm {init.name!r} is a {init.kind} arm',
             'An init arm is a train arm (its final checkpoint is used).')
    missing = sorted(set(arm.seeds) - set(init.seeds))
    if missing and len(init.seeds) != 1:
        fail(
            at, f'seeds {missing} have no run of init_arm {init.name!r} '
            f'(seeds {init.seeds})', 'Give the init arm these seeds, or '
            'one seed (then every seed starts from its run).')


def _check_cycles(arms: List[Arm], where: str) -> None:
    """No arm may (transitively) start from its own result."""
    ups = {a.name: [u for u in (a.teacher_arm, a.init_arm) if u] for a in arms}
    for arm in arms:
        seen, todo = set(), list(ups[arm.name])
        while todo:
            name = todo.pop()
            if name == arm.name:
                fail(
                    f'{where}: arm {arm.name!r}', 'its teacher_arm / '
                    'init_arm chain leads back to itself', 'Break the '
                    'cycle.')
            if name not in seen:
                seen.add(name)
                todo += ups[name]


def check_links(arms: List[Arm], where: str) -> None:
    by_name = {a.name: a for a in arms}
    for arm in arms:
        at = f'{where}: arm {arm.name!r}'
        for key in ('counterpart', 'teacher_arm', 'init_arm'):
            other = getattr(arm, key)
            if other is None:
                continue
            if other == arm.name or other not in by_name:
                fail(at, f'{key}={other!r} is not another arm of the study',
                     f'Arms: {sorted(by_name)}.')
        if arm.teacher_arm:
            teacher = by_name[arm.teacher_arm]
            if teacher.kind != TRAIN:
                fail(
                    at, f'teacher_arm {teacher.name!r} is a {teacher.kind}'
                    ' arm', 'A teacher arm is a train arm.')
            missing = sorted(set(arm.seeds) - set(teacher.seeds))
            if missing:
                fail(
                    at, f'seeds {missing} have no run of teacher_arm '
                    f'{teacher.name!r} (seeds {teacher.seeds})',
                    'Give the teacher arm these seeds too.')
        if arm.init_arm:
            _check_init(arm, by_name, at)
        if arm.counterpart is None and arm.teacher_arm:
            arm.counterpart = arm.teacher_arm
    _check_cycles(arms, where)


def check_gains(study: Study, templates: dict, where: str) -> None:
    """``gain_over`` names another arm, without cycles; a stated gain
    has a ``gain_over`` and agrees with the two arms' values, if given, up
    to the rounding of the three numbers."""
    names = [a.name for a in study.arms]
    for arm in study.arms:
        at = f'{where}: arm {arm.name!r}'
        over = arm.gain_over
        if over is None:
            if arm.reference_gain:
                fail(
                    at, f'a reference gain for {sorted(arm.reference_gain)}'
                    ' but no gain_over', 'Set gain_over to the arm the '
                    'paper\'s gain is over (e.g. gain_over=\'effb7-scratch-'
                    's1\', on a grid arm \'effb7-scratch-{aug}\'), or give '
                    'the paper\'s value only.')
            continue
        written = ''
        if arm.name in templates:
            tmpl, values = templates[arm.name]
            written = (f' (from {tmpl!r} with the grid values {values})'
                       if tmpl != over else ' (written without grid names '
                       f'in braces: the same for every arm of the grid over '
                       f'{", ".join(values)})')
        if not isinstance(over, str) or over not in names:
            fail(
                at, f'gain_over={over!r}{written} is not an arm of the '
                'study', 'Name the arm whose result the gain is over; on a '
                'grid arm put the grid names in braces so that every '
                'expanded arm names one (e.g. gain_over=\'r50-scratch-'
                f'{{sched}}\'). Arms: {names}.')
        if over == arm.name:
            fail(
                at, f'gain_over={over!r}{written} is the arm itself',
                'A gain is over another arm (the paper\'s baseline row, '
                'e.g. Rand Init); drop gain_over or name that arm.')
    for arm in study.arms:
        chain, name = [arm.name], arm.gain_over
        while name is not None:
            chain.append(name)
            if name == arm.name:
                fail(
                    f'{where}: arm {arm.name!r}', 'its gain_over chain '
                    f'{" -> ".join(chain)} leads back to itself', 'A gain is'
                    ' over a baseline: drop gain_over on the baseline arm.')
            if name in chain[:-1]:
                break  # a cycle not through this arm: found from its arms
            name = study.arm(name).gain_over
    for arm in study.arms:
        for key, gain in arm.reference_gain.items():
            over = study.arm(arm.gain_over).reference.get(key)
            value = arm.reference.get(key)
            if over is None or value is None:
                continue
            digits = study.metric(key).digits
            if abs(value - over - gain) > 1.5 * 10**-digits + 1e-9:
                fail(
                    f'{where}: arm {arm.name!r}', f'its reference for '
                    f'{key!r} states gain {gain:+g} over {arm.gain_over!r}'
                    f', but value {value:g} - {over:g} = '
                    f'{value - over:+.{digits}f}', 'Check the paper\'s '
                    'numbers; or give the value only (the gain is then '
                    'the difference) or the gain only.')
