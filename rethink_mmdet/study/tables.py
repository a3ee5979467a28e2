"""Report tables in Markdown, laid out like the papers' tables: arms (or a
combination of arm labels) as rows, the compared axis (a label such as
the schedule or the data size) or the metrics as columns; every cell the
mean +- sample standard deviation (ddof=1) over the arm's seeds, with the
paper's number in parentheses where the study gives one.

Every number shown is also returned as data (:func:`table_cells`), which
``report.json`` carries."""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from .results import RunResult
from .schema import ARM, METRIC, Arm, Study, Table

__all__ = [
    'markdown', 'mean_std', 'table_cells', 'render_table', 'cost_rows',
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
    'reference'}``."""
    runs = _by_arm(results)
    arms = [
        a for a in study.arms if all(
            a.labels.get(k) == v for k, v in table.where.items())
    ]
    rows: Dict[tuple, Dict[str, dict]] = {}
    columns: List[str] = []
    for arm in arms:
        row = tuple(arm.name if r == ARM else arm.labels[r]
                    for r in table.rows)
        rows.setdefault(row, {})
        if table.columns == METRIC:
            for key in table.metrics:
                rows[row][key] = _cell(arm, runs.get(arm.name, []), study, key)
            columns = list(table.metrics)
        else:
            col = arm.labels[table.columns]
            if col not in columns:
                columns.append(col)
            rows[row][col] = _cell(arm, runs.get(arm.name, []), study,
                                   table.metrics[0])
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
    return text + ('\n\n' + '; '.join(notes) + '.' if notes else '')


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
