"""PNG plots of a study with matplotlib (``Figure`` objects, no pyplot: no
display and no global backend state needed).

- ``{metric}_vs_{x}.png``: a metric against iterations, images seen and
  pixels seen, one line per arm (He et al. 2019, Fig. 1: AP against
  iterations, scratch vs pre-trained; Fig. 2: against images / pixels
  seen). With several seeds the line is the mean at each evaluation and
  the band the min-max over seeds; x is the seeds' mean.
- ``{table}_vs_images_seen_incl_upstream.png``: for each table with a
  ``where`` (a comparison), its first metric against the images seen with
  the upstream run's images added to its arms' x (He et al. 2019, Fig. 2:
  the pre-trained curves start at ImageNet's images; an arm with an
  ``init_arm`` or ``teacher_arm`` starts at that run's final images seen,
  same seed).
- ``loss.png``: the total training loss of every arm against iterations.
- ``self_training_losses.png``: ``loss_human``, ``loss_pseudo`` and
  ``pseudo_weight`` of the self-training arms (logged by
  :class:`SelfTrainingDetector`: L_h and L_p before weighting, and the
  factor of L_p after loss normalization, Zoph et al. 2020, App. B).
"""
import os
import os.path as osp
import re
from collections import defaultdict
from dataclasses import replace
from typing import Dict, List, Optional

import numpy as np
from matplotlib.figure import Figure

from .metrics import IMAGES, ITER, PIXELS
from .results import RunResult
from .schema import SELF_TRAIN, Study

__all__ = ['X_AXES', 'SELF_TRAIN_KEYS', 'plot_study']

#: x axis key -> label.
X_AXES = {ITER: 'iteration', IMAGES: 'images seen', PIXELS: 'pixels seen'}
SELF_TRAIN_KEYS = ('loss_human', 'loss_pseudo', 'pseudo_weight')
DPI = 110
#: Line styles and markers cycled per arm, so that coinciding curves (two
#: schedules identical up to the shorter one's end) stay visible.
STYLES = ('-', '--', '-.', ':')
MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X')


def _slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9]+', '_', text).strip('_')


def _mean_curve(runs: List[RunResult], key: str, x: str, val: bool):
    """``(x, mean, min, max)`` arrays at the iterations every seed has."""
    per_seed = []
    for r in runs:
        src = r.history.val if val else r.history.train
        pts = {
            rec[ITER]: (float(rec[x]), float(rec[key]))
            for rec in src if key in rec and x in rec and ITER in rec
        }
        if pts:
            per_seed.append(pts)
    if not per_seed:
        return None
    iters = sorted(set.intersection(*(set(p) for p in per_seed)))
    if not iters:
        return None
    xs = np.array([[p[i][0] for i in iters] for p in per_seed])
    ys = np.array([[p[i][1] for i in iters] for p in per_seed])
    return xs.mean(0), ys.mean(0), ys.min(0), ys.max(0)


def _line(ax, curve, label, index, scale=1.0, marker=False):
    x, mean, lo, hi = curve
    line, = ax.plot(
        x,
        mean * scale,
        label=label,
        linestyle=STYLES[index % len(STYLES)],
        marker=MARKERS[index % len(MARKERS)] if marker else None,
        markersize=7 - 1.5 * (index % 3),
        alpha=0.9)
    if np.any(hi > lo):
        ax.fill_between(
            x,
            lo * scale,
            hi * scale,
            alpha=0.2,
            color=line.get_color(),
            linewidth=0)


def _finish(fig, ax, path, xlabel, ylabel, title):
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.set_title(title, fontsize=12)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc='best')
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def _by_arm(study, results):
    runs: Dict[str, List[RunResult]] = defaultdict(list)
    for r in results:
        runs[r.arm].append(r)
    return [(a.name, runs[a.name]) for a in study.arms if runs.get(a.name)]


def _metric_plots(study, arms, out_dir, notes) -> List[str]:
    paths = []
    for key in study.curve_metrics:
        metric = study.metric(key)
        for x, xlabel in X_AXES.items():
            curves = [(n, _mean_curve(rs, key, x, True)) for n, rs in arms]
            curves = [(n, c) for n, c in curves if c is not None]
            if not curves:
                notes.append(f'no {metric.name} against {xlabel}: ' + (
                    f'no run logged {x} (add ImagesSeenHook to the arms\' '
                    'custom_hooks)' if x !=
                    ITER else 'no run logged an evaluation of it'))
                continue
            fig = Figure(figsize=(6.4, 4.2))
            ax = fig.subplots()
            for i, (name, curve) in enumerate(curves):
                _line(ax, curve, name, i, metric.scale, marker=True)
            path = osp.join(out_dir, f'{_slug(key)}_vs_{x}.png')
            _finish(fig, ax, path, xlabel, metric.name,
                    f'{study.name}: {metric.name} vs {xlabel}')
            paths.append(path)
    return paths


def _shifted(runs: List[RunResult], upstream: List[RunResult]):
    """``runs`` whose images-seen history starts at the final images seen
    of the upstream run of the same seed (else the first upstream run)."""
    if not upstream:
        return runs
    by_seed = {u.seed: u for u in upstream}
    out = []
    for r in runs:
        up = by_seed.get(r.seed, upstream[0])
        offset = float(up.images_seen or 0)
        val = [
            dict(rec, **{IMAGES: float(rec[IMAGES]) +
                         offset}) if IMAGES in rec else rec
            for rec in r.history.val
        ]
        out.append(replace(r, history=replace(r.history, val=val, train=[])))
    return out


def _table_plots(study, arms, out_dir, notes) -> List[str]:
    runs = dict(arms)
    paths = []
    for table in study.tables:
        if not table.where:
            continue
        key = table.metrics[0]
        metric = study.metric(key)
        curves = []
        for arm in study.arms:
            if arm.name not in runs or not table.selects(arm):
                continue
            up = study.upstream(arm)
            curve = _mean_curve(
                _shifted(runs[arm.name], runs.get(up, [])), key, IMAGES, True)
            if curve is not None:
                curves.append((arm.name + (f' (+ {up})' if up else ''), curve))
        if not curves:
            notes.append(f'no {metric.name} against images seen for '
                         f'"{table.title}"')
            continue
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        for i, (name, curve) in enumerate(curves):
            _line(ax, curve, name, i, metric.scale, marker=True)
        path = osp.join(
            out_dir, f'{_slug(table.title)[:60]}_vs_images_seen_incl_'
            'upstream.png')
        _finish(fig, ax, path, 'images seen, incl. the upstream run\'s',
                metric.name, table.title)
        paths.append(path)
    return paths


def _loss_plots(study, arms, out_dir, notes) -> List[str]:
    paths = []
    curves = [(n, _mean_curve(rs, 'loss', ITER, False)) for n, rs in arms]
    curves = [(n, c) for n, c in curves if c is not None]
    if curves:
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        for i, (name, curve) in enumerate(curves):
            _line(ax, curve, name, i)
        path = osp.join(out_dir, 'loss.png')
        _finish(fig, ax, path, 'iteration',
                'training loss (LogProcessor window mean)',
                f'{study.name}: training loss')
        paths.append(path)
    st = [(n, rs) for n, rs in arms if rs[0].kind == SELF_TRAIN]
    if not st:
        return paths
    fig = Figure(figsize=(13, 4))
    axes = fig.subplots(1, 3)
    drawn = False
    for ax, key in zip(axes, SELF_TRAIN_KEYS):
        for i, (name, rs) in enumerate(st):
            curve = _mean_curve(rs, key, ITER, False)
            if curve is not None:
                _line(ax, curve, name, i)
                drawn = True
        ax.set_xlabel('iteration', fontsize=11)
        ax.set_ylabel(key, fontsize=11)
        ax.set_title(key, fontsize=12)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
    if drawn:
        fig.suptitle(f'{study.name}: self-training losses (student)')
        fig.tight_layout()
        path = osp.join(out_dir, 'self_training_losses.png')
        fig.savefig(path, dpi=DPI)
        paths.append(path)
    else:
        notes.append('no self-training loss scalars logged '
                     f'({", ".join(SELF_TRAIN_KEYS)})')
    return paths


def plot_study(study: Study,
               results: List[RunResult],
               out_dir: str,
               notes: Optional[List[str]] = None) -> List[str]:
    """Write the study's plots into ``out_dir``; returns their paths.
    Plots that cannot be drawn (nothing logged) are explained in
    ``notes``."""
    os.makedirs(out_dir, exist_ok=True)
    notes = notes if notes is not None else []
    arms = _by_arm(study, results)
    return (_metric_plots(study, arms, out_dir, notes) +
            _table_plots(study, arms, out_dir, notes) +
            _loss_plots(study, arms, out_dir, notes))
