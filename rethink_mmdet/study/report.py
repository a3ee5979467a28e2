"""``DIR/report.md`` (and ``DIR/report.json``, ``DIR/plots/*.png``) of a
study: the tables, the verdicts on the paper's claims (:mod:`.verdict`),
the cost of every run and the cost ratios, the pseudo labels' quality,
the plots, from the runs' work dirs alone (mmengine's
``vis_data/scalars.json``, ``tools/self_train.py``'s ``rounds.json``, the
stores) and ``DIR/study.json``."""
import os.path as osp
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, List

from mmengine.config import Config

from rethink_mmdet.utils import atomic_write, dump_json
from .plots import plot_study
from .quality import QualityError, pseudo_label_quality
from .results import RunResult, collect
from .schema import SELF_TRAIN, Study, StudyConfigError
from .state import STUDY_COPY, StudyState
from .status import study_status
from .tables import (MISSING, _signed, cost_ratios, cost_rows, markdown,
                     render_table, table_cells)
from .validate import load_study
from .verdict import evaluate_claims

__all__ = ['REPORT', 'REPORT_JSON', 'PLOTS', 'write_report', 'load_state']

REPORT, REPORT_JSON, PLOTS = 'report.md', 'report.json', 'plots'
PSEUDO_DATASET = 'PseudoLabelDataset'
#: Zoph et al. 2020, Sec. 4.
PAPER_COST_RANGE = '1.3x to 8x'


def load_state(study_dir: str):
    """``(Study, StudyState)`` of a study directory."""
    state = StudyState(study_dir)
    if not state.exists:
        raise StudyConfigError(
            f'{study_dir}: no {osp.basename(state.path)}: not a study '
            'directory (run tools/study.py STUDY_CONFIG --work-dir DIR '
            'first).')
    return load_study(osp.join(state.study_dir, STUDY_COPY)), state


def _student_thrs(config: str) -> List[float]:
    """``score_thr`` of every PseudoLabelDataset of a student config."""
    found = []

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == PSEUDO_DATASET and 'score_thr' in node:
                found.append(float(node['score_thr']))
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    if osp.isfile(config):
        visit(Config.fromfile(config).get('train_dataloader', {}))
    return found


def _pct(v):
    return MISSING if v is None else f'{100 * v:.1f}'


def _store_quality(task):
    """``pseudo_label_quality`` of one store (a detection store against a
    COCO JSON), or :func:`rethink_mmdet.seg.quality.score_pseudo_labels`
    (a segmentation store against a folder of class maps), or the error's
    text (a picklable result for a process pool)."""
    store, gt, thrs, match = task
    if osp.isdir(gt):  # class maps: MMSegmentation, imported only here
        from rethink_mmdet.seg.quality import score_pseudo_labels
        try:
            return dict(score_pseudo_labels(store, gt), segmentation=True)
        except (OSError, ValueError) as e:
            return f'{type(e).__name__}: {e}'
    try:
        return pseudo_label_quality(store, gt, thrs, match=match)
    except QualityError as e:
        return str(e)


def _seg_quality_lines(data: List[dict]) -> List[str]:
    """The table of the segmentation stores' quality (Zoph et al. 2020,
    Sec. 3.2: pixels kept where the averaged probability is >= 0.5)."""
    rows = [[
        q['run'], q['round'], q['num_images'],
        _pct(q['kept_fraction']),
        _pct(q['kept_miou']),
        _pct(q['kept_accuracy']),
        _pct(q['miou'])
    ] for q in data]
    return [
        markdown([
            'run', 'round', 'images', 'pixels kept', 'mIoU on kept',
            'accuracy on kept', 'mIoU (ignored = wrong)'
        ], rows), '',
        'Segmentation pseudo labels against the hidden class maps (in %): '
        'the fraction of valid pixels the labeler kept (not 255), the mIoU '
        'and pixel accuracy on those pixels (what the student trains on), '
        'and the mIoU over all valid pixels with an ignored pixel counted '
        'as a miss (mmseg IoUMetric areas summed over the store).'
    ]


def _quality(study: Study,
             results: List[RunResult],
             state: StudyState,
             jobs: int = 1):
    """Markdown lines and data of the pseudo-label quality section (the
    stores scored ``jobs`` at a time)."""
    lines, data, tasks = [], [], []
    for r in results:
        arm = study.arm(r.arm)
        if arm.kind != SELF_TRAIN or not arm.pseudo_gt:
            continue
        thrs = [arm.score_thr] + _student_thrs(
            state.runs[r.id]['config']) + arm.quality_thrs
        for rnd, store in enumerate(r.stores, 1):
            where = f'{r.id} round {rnd}'
            if not osp.isfile(osp.join(store, 'meta.json')):
                lines.append(f'- {where}: no finished store at {store}')
            elif not osp.exists(arm.pseudo_gt):
                lines.append(f'- {where}: hidden ground truth '
                             f'{arm.pseudo_gt} not found')
            else:
                tasks.append((dict(run=r.id, round=rnd, store=store),
                              (store, arm.pseudo_gt, thrs, arm.quality_match)))
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(min(jobs, len(tasks))) as pool:
            scored = list(pool.map(_store_quality, [t for _, t in tasks]))
    else:
        scored = [_store_quality(t) for _, t in tasks]
    seg = []
    for (head, _), q in zip(tasks, scored):
        if isinstance(q, str):
            lines.append(f'- {head["run"]} round {head["round"]}: {q}')
        else:
            (seg if q.get('segmentation') else data).append(dict(head, **q))
    seg_lines = _seg_quality_lines(seg) if seg else []
    if data:
        rows = [[
            q['run'], q['round'], q['images'], q['boxes'],
            _pct(q['AP'] if q['AP'] >= 0 else None),
            _pct(q['AP50'] if q['AP50'] >= 0 else None), f'{p["thr"]:g}',
            p['boxes'],
            _pct(p['precision']),
            _pct(p['recall'])
        ] for q in data for p in q['pr']]
        lines = [
            markdown([
                'run', 'round', 'images', 'boxes', 'AP', 'AP50', 'score thr',
                'boxes >= thr', 'precision', 'recall'
            ], rows), '',
            'AP: pycocotools COCOeval (bbox, in %) of all stored boxes '
            'against the hidden ground truth; precision / recall (%) of '
            'the boxes scoring >= the threshold (the labeler\'s floor, '
            'the student\'s score_thr, quality_thrs), matched greedily '
            'by score at IoU 0.5 to same-class ground truth.'
        ] + lines
    if seg_lines:
        lines = seg_lines + ([''] + lines if lines else [])
    return lines, data + seg


def _ratio_lines(ratios):
    if not ratios:
        return []

    def r(v):
        return MISSING if v is None else f'{v:.2f}x'

    rows = []
    for row in ratios:
        with_t = row.get('ratio_with_teacher', {})
        rows.append([row['arm'], row['counterpart']] + [
            r(row['ratio'][k])
            for k in ('wall_s', 'device_hours', 'images_seen')
        ] + [
            r(with_t.get(k)) if with_t else MISSING
            for k in ('wall_s', 'device_hours', 'images_seen')
        ])
    return [
        markdown([
            'arm', 'counterpart', 'wall time', 'device-hours', 'images seen',
            'wall time incl. upstream', 'device-hours incl. upstream',
            'images seen incl. upstream'
        ], rows), '',
        'Mean cost per seed of the arm over its counterpart\'s. Zoph et al. '
        f'2020 report that self-training costs {PAPER_COST_RANGE} the '
        'compute of fine-tuning; "incl. upstream" adds the training of the '
        'arm it builds on: the teacher arm of a self-training arm, the '
        'pre-training (init) arm of a fine-tuned one (He et al. 2019, '
        'Fig. 2, count the pre-training\'s images too).'
    ]


def _claim_lines(claims: List[dict], study: Study) -> List[str]:
    """The claims table (:mod:`.verdict`) and how to read it."""
    rows = []
    for c in claims:
        metric = study.metric(c['metric'])
        ours = MISSING if c['d'] is None else _signed(c['d'], metric.digits)
        if c['se'] is not None:
            ours += f' ± {c["se"]:.{metric.digits}f}'
        seeds = ' vs '.join(f'{n}' if n == of else f'{n}/{of}'
                            for n, of in (c['seeds'], c['over_seeds']))
        verdict = c['verdict'] if c['verdict'] == 'inconclusive' else \
            f'**{c["verdict"]}**'
        rule = c['rule']
        if c.get('requires'):
            rule += f'; tested if {" and ".join(c["requires"])} agrees'
        rows.append([
            c['name'], c['paper'].replace('|', '\\|'),
            f'{metric.name}, d = {c["arm"]} − {c["over"]}: {rule}',
            f'{ours} ({seeds} seeds)', f'{verdict}: {c["reason"]}'
        ])
    k = f'{study.verdict_k:g}'
    return [
        markdown(['claim', 'paper', 'rule', 'ours', 'verdict'], rows), '',
        'd: the difference of the two arms\' means over their finished '
        'seeds, in the metric\'s shown units (scaled as in the tables); se:'
        ' its standard error sqrt(s1²/n1 + s2²/n2); k = '
        f'{k} (verdict_k). The rule is fixed in the study config before the'
        f' run: "d > {k} se" agrees if d > {k} se and disagrees if d < '
        f'-{k} se (the mirror for "d < -{k} se"); "d ± {k} se within ±m" (an'
        ' equivalence test, like TOST) agrees if that interval lies within '
        '[-m, m] and disagrees if it lies entirely outside; anything else, '
        'or an arm with fewer than 2 seeds, is inconclusive; so is a claim '
        'the paper makes under a condition ("tested if ... agrees") whose '
        'condition does not agree: not tested.'
    ]


def write_report(study_dir: str, log: Callable = print, jobs: int = 1) -> str:
    """Write ``report.md``, ``report.json`` and the plots of a study
    directory; returns the report's path.

    Args:
        study_dir (str): The study directory.
        log (callable): Where progress lines go. Defaults to print.
        jobs (int): Processes that score the pseudo-label stores (each a
            COCOeval over the unlabeled images). Defaults to 1.
    """
    study_status(study_dir)  # statuses (and SLURM's elapsed times) now
    study, state = load_state(study_dir)
    results = collect(study, state)
    notes: List[str] = []
    plots = plot_study(study, results, osp.join(state.study_dir, PLOTS), notes)
    tables = [table_cells(t, study, results) for t in study.tables]
    ratios = cost_ratios(study, results)
    quality_lines, quality = _quality(study, results, state, jobs)
    claims = evaluate_claims(study, results)
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    md = [f'# Study `{study.name}`', '']
    if study.description:
        md += [study.description, '']
    md += [
        f'Study config: `{state.data["study"]["config"]}`; state: '
        f'`{state.path}`; written {time.strftime("%Y-%m-%d %H:%M:%S")}.', '',
        'Runs: ' + ', '.join(f'{n} {s}'
                             for s, n in sorted(counts.items())) + '.', ''
    ]
    failed = [r for r in results if r.status == 'failed']
    for r in failed:
        first = (r.error or 'no error recorded').strip().splitlines()[0]
        md.append(f'- **{r.id} failed**: {first}')
    if failed:
        md.append('')
    for table, data in zip(study.tables, tables):
        md += [f'## {table.title}', '', render_table(data, study, table), '']
    if claims:
        md += ['## Claims', ''] + _claim_lines(claims, study) + ['']
    md += [
        '## Cost', '',
        markdown([
            'run', 'status', 'processes', 'wall time', 'device-hours',
            'CPU time', 'images seen', 'pixels seen', 'stages'
        ], cost_rows(results)), '',
        'Device-hours = processes x wall hours (wall time from the study '
        'state unless marked). CPU time: user + system seconds of the '
        'run\'s processes (local runs), which do not grow when other jobs '
        'share the cores.', ''
    ]
    if ratios:
        md += ['### Cost against the counterpart', ''
               ] + _ratio_lines(ratios) + ['']
    if quality_lines:
        md += ['## Pseudo-label quality', ''] + quality_lines + ['']
    md += ['## Plots', '']
    md += [f'![{osp.basename(p)}]({PLOTS}/{osp.basename(p)})' for p in plots]
    if notes:
        md += ['', 'Not plotted: ' + '; '.join(notes) + '.']
    md += [
        '', 'Values are the last logged value of each metric per run '
        '(the final evaluation; the self-training student\'s '
        'tools/test.py evaluation); metrics scaled as the study config '
        'says.', ''
    ]
    path = osp.join(state.study_dir, REPORT)
    atomic_write('\n'.join(md), path)
    dump_json(
        dict(
            study=study.name,
            tables=tables,
            claims=claims,
            ratios=ratios,
            quality=quality,
            plots=plots,
            runs=[
                dict(
                    id=r.id,
                    arm=r.arm,
                    seed=r.seed,
                    status=r.status,
                    metrics=r.metrics,
                    wall_s=r.wall_s,
                    device_hours=r.device_hours,
                    cpu_s=r.cpu_s,
                    images_seen=r.images_seen,
                    pixels_seen=r.pixels_seen,
                    stages=r.stages,
                    processes=r.processes) for r in results
            ]),
        osp.join(state.study_dir, REPORT_JSON),
        canonical=False)
    log(f'report: {path}')
    for p in plots:
        log(f'plot: {p}')
    return path
