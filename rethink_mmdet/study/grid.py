"""Grid arms: one arm per combination of ``grid`` values (He et al.'s
schedules x inits, Zoph et al.'s label fractions x augmentations), the
values formatted into the arm's name, paths and overrides."""
import itertools
import re
import string
from typing import List, Tuple

from .schema import FORMATTED, fail

__all__ = ['expand_grid']


def _format(value, values, where):
    """Grid values into ``value``: ``'{lr}'`` alone becomes the grid value
    itself (its type kept: a float stays a float), ``'r50-{sched}'`` a
    formatted string."""
    if isinstance(value, str):
        whole = re.fullmatch(r'\{(\w+)\}', value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        try:
            return value.format(**{k: str(v) for k, v in values.items()})
        except (KeyError, IndexError, ValueError) as e:
            fail(
                where, f'{value!r} cannot be formatted with the grid '
                f'values {values} ({e!r})', 'Use only grid names in '
                '{braces}; write {{ and }} for literal braces.')
    if isinstance(value, dict):
        return {k: _format(v, values, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_format(v, values, where) for v in value)
    return value


def expand_grid(raw: dict, where: str) -> List[Tuple[dict, dict]]:
    """``(arm dict, grid values)`` for every combination of ``grid``."""
    grid = raw.get('grid')
    if grid is None:
        return [(dict(raw), {})]
    if not isinstance(grid, dict) or not grid or not all(
            isinstance(v, (list, tuple)) and v for v in grid.values()):
        fail(
            where, f'grid={grid!r}', 'grid is a dict of label name -> '
            'non-empty list of values, e.g. grid=dict(sched=["2x", "3x"]).')
    names = [
        f for _, f, _, _ in string.Formatter().parse(raw.get('name', '')) if f
    ]
    missing = set(grid) - set(names)
    if missing:
        fail(
            where, f'grid names {sorted(missing)} are not in name '
            f'{raw.get("name")!r}: the expanded arms would share a name',
            'Put every grid name in the arm name, e.g. name="r50-{sched}".')
    out = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        arm = {k: v for k, v in raw.items() if k != 'grid'}
        for key in FORMATTED:
            if key in arm:
                arm[key] = str(_format(arm[key], values, where))
        for key in ('cfg_options', 'teacher_cfg_options'):
            if key in arm:
                arm[key] = _format(arm[key], values, where)
        out.append((arm, values))
    return out
