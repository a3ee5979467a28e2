"""Report tables in Markdown, laid out like the papers' tables: arms (or a
combination of arm labels) as rows, the compared axis (a label such as
the schedule or the data size) or the metrics as columns; every cell the
mean +- sample standard deviation (ddof=1) over the arm's seeds, with the
paper's number in parentheses where the study gives one. Below a table
whose arms have a ``gain_over``, their gains in the same layout (Zoph et
al. 2020, Tables 2-4, 7: "+1.7 over Rand Init"): ours, the difference of
the two arms' means +- its standard error, beside the paper's.

Every number shown is also returned as data (:func:`table_cells`), which
``report.json`` carries."""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from .results import RunResult
from .schema import ARM, METRIC, Arm, Study, Table

__all__ = [
    'markdown', 'mean_std', 'gain', 'table_cells', 'render_table', 'cost_rows',
    'cost_ratios', 'fmt_seconds'
]

MISSING = '–'


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join('---' for _ in header) + '|'
    ]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def mean_std(values: Sequence[float]) -> tuple:
    """``(mean, std)``; std is the sample standard deviation (ddof=1),
    None for a single value; ``(None, None)`` for no value."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None, None
    mean = float(np.mean(vals))
    return mean, (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)


def gain(values: Sequence[float], over: Sequence[float]) -> tuple:
    """``(difference of the means, its standard error)`` of two arms' values
    over seeds: ``mean(values) - mean(over)`` and ``sqrt(s1^2 / n1 +
    s2^2 / n2)`` with the sample standard deviations (ddof=1; Welch's
    standard error of a difference of independent means), None where an
    arm has a single value; ``(None, None)`` where one has none."""
    values = [v for v in values if v is not None]
    over = [v for v in over if v is not None]
    (m1, s1), (m2, s2) = mean_std(values), mean_std(over)
    if m1 is None or m2 is None:
        return None, None
    se = None
    if s1 is not None and s2 is not None:
        se = math.sqrt(s1**2 / len(values) + s2**2 / len(over))
    return m1 - m2, se


def _by_arm(results: List[RunResult]) -> Dict[str, List[RunResult]]:
    out: Dict[str, List[RunResult]] = {}
    for r in results:
        out.setdefault(r.arm, []).append(r)
    return out


def _cell(arm: Arm, runs: List[RunResult], study: Study, key: str) -> dict:
    metric = study.metric(key)
    values = [r.metrics.get(key) for r in runs]
    got = [v * metric.scale for v in values if v is not None]
    mean, std = mean_std(got)
    return dict(
        arm=arm.name,
        metric=key,
        values=got,
        seeds=len(arm.seeds),
        mean=mean,
        std=std,
        reference=arm.reference.get(key))


def _gain_cell(arm: Arm, runs: Dict[str, List[RunResult]], study: Study,
               key: str) -> dict:
    mine = _cell(arm, runs.get(arm.name, []), study, key)
    over = study.arm(arm.gain_over)
    base = _cell(over, runs.get(over.name, []), study, key)
    diff, se = gain(mine['values'], base['values'])
    return dict(
        arm=arm.name,
        over=over.name,
        metric=key,
        seeds=[len(mine['values']), mine['seeds']],
        over_seeds=[len(base['values']), base['seeds']],
        gain=diff,
        se=se,
        reference=study.paper_gain(arm, key))


def _signed(value: float, digits: int) -> str:
    text = f'{value:+.{digits}f}'
    return '+' + text[1:] if float(text) == 0 else text  # no "-0.0"


def _fmt_gain(cell: Optional[dict], digits: int) -> str:
    if cell is None:
        return ''
    if cell['gain'] is None:
        text = MISSING
    else:
        text = _signed(cell['gain'], digits)
        if cell['se'] is not None:
            text += f' ± {cell["se"]:.{digits}f}'
        (n, total), (m, over_total) = cell['seeds'], cell['over_seeds']
        if n < total or m < over_total:
            text += f' [{n}/{total} vs {m}/{over_total} seeds]'
    if cell['reference'] is not None:
        text += f' ({_signed(cell["reference"], digits)})'
    return text


def _over_labels(cells: List[dict], placed: Dict[str, tuple],
                 columns: str) -> str:
    """What a gains row is over: the baseline's row label in the table
    (with its column where it is not the gain's own), else its name."""
    out: List[str] = []
    for cell in cells:
        if cell['over'] not in placed:
            text = cell['over']
        else:
            row, col = placed[cell['over']]
            text = ', '.join(row)
            if columns != METRIC and col != placed[cell['arm']][1]:
                text += f' ({col})'
        if text not in out:
            out.append(text)
    return '; '.join(out)


def _fmt_cell(cell: Optional[dict], digits: int) -> str:
    if cell is None:
        return ''
    if cell['mean'] is None:
        text = MISSING
    else:
        text = f'{cell["mean"]:.{digits}f}'
        if cell['std'] is not None:
            text += f' ± {cell["std"]:.{digits}f}'
        if len(cell['values']) < cell['seeds']:
            text += f' [{len(cell["values"])}/{cell["seeds"]} seeds]'
    if cell['reference'] is not None:
        text += f' ({cell["reference"]:.{digits}f})'
    return text


def table_cells(table: Table, study: Study, results: List[RunResult]) -> dict:
    """The table as data: ``{'title', 'header', 'rows': [{'label',
    'cells': [cell or None]}]}``; a cell is ``{'arm', 'metric', 'values'
    (scaled, one per seed with a value), 'seeds', 'mean', 'std',
    'reference'}``; ``'gains'``: the rows of arms with a ``gain_over``,
    ``{'label', 'over' (what the gains are over, as the table labels it),
    'cells': [gain cell or None]}``, a gain cell ``{'arm', 'over',
    'metric', 'seeds' / 'over_seeds' ([with a value, of the arm]), 'gain'
    (ours: difference of the means), 'se' (its standard error),
    'reference' (the paper's gain)}``."""
    runs = _by_arm(results)
    arms = [a for a in study.arms if table.selects(a)]
    rows: Dict[tuple, Dict[str, dict]] = {}
    gains: Dict[tuple, Dict[str, dict]] = {}
    placed: Dict[str, tuple] = {}  # arm name -> (row label, column)
    columns: List[str] = []
    for arm in arms:
        row = tuple(arm.name if r == ARM else arm.labels[r]
                    for r in table.rows)
        rows.setdefault(row, {})
        if table.columns == METRIC:
            cols = dict(zip(table.metrics, table.metrics))
            columns = list(table.metrics)
        else:
            cols = {arm.labels[table.columns]: table.metrics[0]}
            if arm.labels[table.columns] not in columns:
                columns.append(arm.labels[table.columns])
        placed[arm.name] = (row, next(iter(cols)))
        for col, key in cols.items():
            rows[row][col] = _cell(arm, runs.get(arm.name, []), study, key)
            if arm.gain_over:
                gains.setdefault(row,
                                 {})[col] = _gain_cell(arm, runs, study, key)
    if table.columns == METRIC:
        header = [study.metric(k).name for k in columns]
    else:
        header = list(columns)
    return dict(
        title=table.title,
        row_names=[r if r != ARM else 'arm' for r in table.rows],
        header=header,
        rows=[
            dict(label=list(row), cells=[cells.get(c) for c in columns])
            for row, cells in rows.items()
        ],
        gains=[
            dict(
                label=list(row),
                over=_over_labels(list(cells.values()), placed, table.columns),
                cells=[cells.get(c) for c in columns])
            for row, cells in gains.items()
        ])


def render_table(data: dict, study: Study, table: Table) -> str:
    digits = study.metric(table.metrics[0]).digits
    rows = []
    for row in data['rows']:
        cells = [
            _fmt_cell(c,
                      study.metric(c['metric']).digits if c else digits)
            for c in row['cells']
        ]
        rows.append(row['label'] + cells)
    text = markdown(data['row_names'] + data['header'], rows)
    notes = []
    if table.columns != METRIC:
        notes.append(f'{study.metric(table.metrics[0]).name}, columns: '
                     f'{table.columns}')
    if any(c and c['std'] is not None for r in data['rows']
           for c in r['cells']):
        notes.append('mean ± standard deviation (ddof=1) over seeds')
    if any(c and c['reference'] is not None for r in data['rows']
           for c in r['cells']):
        notes.append("the paper's number in parentheses")
    if notes:
        text += '\n\n' + '; '.join(notes) + '.'
    if data['gains']:
        text += '\n\n' + _render_gains(data, study, table)
    return text


def _render_gains(data: dict, study: Study, table: Table) -> str:
    rows = []
    for row in data['gains']:
        rows.append(row['label'] + [row['over']] + [
            _fmt_gain(c,
                      study.metric(c['metric']).digits if c else 0)
            for c in row['cells']
        ])
    cells = [c for r in data['gains'] for c in r['cells'] if c]
    notes = ['Gain: difference of the two arms\' means over seeds']
    if any(c['se'] is not None for c in cells):
        notes[0] += (' ± its standard error sqrt(s1²/n1 + s2²/n2) (where '
                     'both arms have 2+ seeds)')
    if any(c['reference'] is not None for c in cells):
        notes.append("the paper's gain in parentheses (as stated, or the "
                     "difference of its two numbers)")
    return '\n\n'.join([
        'Gains over the arm in column "over" (ours; the paper\'s in '
        'parentheses):',
        markdown(data['row_names'] + ['over'] + data['header'], rows),
        '; '.join(notes) + '.'
    ])


def fmt_seconds(s: Optional[float]) -> str:
    if s is None:
        return MISSING
    if s < 120:
        return f'{s:.1f} s'
    if s < 7200:
        return f'{s / 60:.1f} min'
    return f'{s / 3600:.2f} h'


def _fmt(v: Optional[float], spec: str) -> str:
    return MISSING if v is None or (isinstance(v, float) and math.isnan(v)) \
        else format(v, spec)


def cost_rows(results: List[RunResult]) -> List[list]:
    """Rows of the cost table: one per run."""
    rows = []
    for r in results:
        rows.append([
            r.id, r.status,
            str(r.processes),
            fmt_seconds(r.wall_s) +
            ('' if r.wall_source == 'state' else f' ({r.wall_source})'),
            _fmt(r.device_hours, '.4f'),
            fmt_seconds(r.cpu_s),
            _fmt(r.images_seen, '.0f'),
            _fmt(r.pixels_seen, '.3g'),
            ', '.join(f'{k} {fmt_seconds(v)}' for k, v in r.stages.items())
        ])
    return rows


def _arm_cost(runs: List[RunResult]) -> dict:
    return dict(
        wall_s=mean_std([r.wall_s for r in runs])[0],
        device_hours=mean_std([r.device_hours for r in runs])[0],
        images_seen=mean_std([r.images_seen for r in runs])[0])


def _ratio(a, b):
    return a / b if a is not None and b else None


def cost_ratios(study: Study, results: List[RunResult]) -> List[dict]:
    """For every arm with a ``counterpart``: its mean cost per seed over
    the counterpart's (wall time, device-hours, images seen); for an arm
    built on another arm's training (a self-training arm's ``teacher_arm``,
    a fine-tuned arm's ``init_arm``: He et al. 2019, Fig. 2 count the
    pre-training's images too) also including that arm's runs (the same
    seeds', or its only run)."""
    runs = _by_arm(results)
    out = []
    for arm in study.arms:
        if not arm.counterpart:
            continue
        own = _arm_cost(runs.get(arm.name, []))
        ref = _arm_cost(runs.get(arm.counterpart, []))
        row = dict(
            arm=arm.name,
            counterpart=arm.counterpart,
            own=own,
            counterpart_cost=ref,
            ratio={k: _ratio(own[k], ref[k])
                   for k in own})
        upstream = study.upstream(arm)
        if upstream:
            up_runs = runs.get(upstream, [])
            same = [r for r in up_runs if r.seed in arm.seeds]
            up = _arm_cost(same or up_runs[:1])
            total = {
                k: (own[k] + up[k]) if None not in (own[k], up[k]) else None
                for k in own
            }
            row['upstream'] = upstream
            row['ratio_with_teacher'] = {
                k: _ratio(total[k], ref[k])
                for k in total
            }
        out.append(row)
    return out
