"""Validation of a study config (the format: :mod:`.schema`; its claims:
:func:`.verdict.parse_claims`): every mistake a
:class:`~.schema.StudyConfigError` naming the key, the problem and the
fix."""
import os.path as osp
from typing import List

from mmengine.config import Config

from rethink_mmdet.self_training.student_init import STUDENT_INITS
from rethink_mmdet.utils import is_int
from .arm_links import check_gains, check_links
from .grid import expand_grid
from .schema import (ARM, COMMON_ARM_KEYS, KINDS, LOAD_FROM, MATCH_BY, METRIC,
                     METRIC_KEYS, NAME_RE, REFERENCE_KEYS, SELF_TRAIN,
                     SELF_TRAIN_KEYS, TABLE_KEYS, TOP_KEYS, TRAIN, VERDICT_K,
                     Arm, Metric, Study, StudyConfigError, Table, fail)
from .verdict import parse_claims

__all__ = ['parse_study', 'load_study']


def _check_keys(where, given, known):
    unknown = sorted(set(given) - set(known))
    if unknown:
        fail(where, f'unknown key(s) {unknown}',
             f'Known keys: {", ".join(known)}.')


def _resolve(path, base_dir, where):
    """A config path relative to the study config's folder, else to the
    working directory."""
    for cand in (osp.join(base_dir, path), path):
        if osp.isfile(cand):
            return osp.abspath(cand)
    fail(
        where, f'{path!r} does not exist (looked in {base_dir} and in '
        'the working directory)', 'Give a path relative to the study '
        'config or an absolute one.')


def _seeds(raw, where):
    if 'seed' in raw and 'seeds' in raw:
        fail(where, 'both seed and seeds given', 'Give one of them.')
    seeds = raw.get('seeds', [raw.get('seed', 0)])
    if not isinstance(seeds, (list, tuple)) or not seeds or not all(
            is_int(s) and s >= 0 for s in seeds):
        fail(where, f'seeds={seeds!r}', 'seed is a non-negative int, seeds '
             'a non-empty list of them.')
    if len(set(seeds)) != len(seeds):
        fail(where, f'repeated seeds {list(seeds)}', 'List each seed once.')
    return list(seeds)


def _options(raw, key, where):
    """A dict of overrides, or a list of them merged in order (later keys
    win): one set shared by many arms, e.g. ``[{{_base_._short_run}},
    {'train_cfg.max_iters': 4}]``."""
    value = raw.get(key, {})
    parts = value if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(p, dict) for p in parts):
        fail(
            where, f'{key} is a {type(value).__name__}', f'{key} is a dict '
            'of dotted config keys -> values, as --cfg-options takes (or a '
            'list of such dicts, merged in order).')
    merged = {}
    for part in parts:
        merged.update(part)
    return merged


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _references(raw, where):
    """``(values, gains)`` of one arm's references: metric key -> the
    paper's number, or -> ``dict(value=..., gain=...)`` (either or both).
    """
    how = ('References map metric key -> the paper\'s number, or -> '
           'dict(value=..., gain=...) with gain the paper\'s gain over the '
           'arm\'s gain_over (e.g. dict(value=40.9, gain=1.7) or '
           'dict(gain=1.7)).')
    if not isinstance(raw, dict):
        fail(where, f'{raw!r} is not a dict', how)
    values, gains = {}, {}
    for key, ref in raw.items():
        at = f'{where}[{key!r}]'
        if _is_number(ref):
            values[key] = float(ref)
            continue
        if not isinstance(ref, dict):
            fail(at, f'{ref!r}', how)
        _check_keys(at, ref, REFERENCE_KEYS)
        if not ref or not all(_is_number(v) for v in ref.values()):
            fail(at, f'{ref!r}', how)
        if 'value' in ref:
            values[key] = float(ref['value'])
        if 'gain' in ref:
            gains[key] = float(ref['gain'])
    return values, gains


def _parse_arm(raw: dict, values: dict, base_dir: str, where: str) -> Arm:
    kind = raw.get('kind', TRAIN)
    if kind not in KINDS:
        fail(where, f'kind={kind!r}', f'Use one of {KINDS}.')
    known = COMMON_ARM_KEYS + (SELF_TRAIN_KEYS if kind == SELF_TRAIN else ())
    _check_keys(where, raw, known)
    name = raw.get('name')
    if not isinstance(name, str) or not NAME_RE.match(name):
        fail(
            where, f'name={name!r}', 'Every arm needs a name of letters, '
            'digits and _.+- (it names the arm\'s work dir).')
    where = f'{where} ({name!r})'
    if 'config' not in raw:
        fail(where, 'no config', 'Give the detector config the arm trains.')
    labels = raw.get('labels', {})
    if not isinstance(labels, dict):
        fail(where, f'labels={labels!r}', 'labels is a dict name -> value.')
    labels = {str(k): str(v) for k, v in {**labels, **values}.items()}
    reference = raw.get('reference', {})
    value, gain = _references(reference, f'{where}: reference')
    if values and reference:
        fail(
            where, 'reference given on a grid arm', 'Give the paper\'s '
            'numbers of grid arms in the top-level references dict, by '
            'expanded arm name.')
    arm = Arm(
        name=name,
        kind=kind,
        config=_resolve(raw['config'], base_dir, where),
        cfg_options=_options(raw, 'cfg_options', where),
        seeds=_seeds(raw, where),
        labels=labels,
        reference=value,
        reference_gain=gain,
        gain_over=raw.get('gain_over'),
        counterpart=raw.get('counterpart'),
        init_arm=raw.get('init_arm'),
        init_key=raw.get('init_key', LOAD_FROM))
    if 'init_key' in raw and not arm.init_arm:
        fail(
            where, 'init_key without init_arm', 'init_key names the config '
            'key that receives init_arm\'s final checkpoint; give init_arm '
            'or drop init_key.')
    if not isinstance(arm.init_key, str) or not arm.init_key:
        fail(
            where, f'init_key={arm.init_key!r}', 'init_key is a dotted '
            "config key, e.g. 'load_from' or "
            "'model.backbone.init_cfg.checkpoint'.")
    if kind == SELF_TRAIN:
        _parse_self_train(arm, raw, base_dir, where)
    return arm


def _parse_self_train(arm, raw, base_dir, where):
    if ('teacher_arm' in raw) == ('teacher_config' in raw):
        fail(
            where, 'a self_train arm needs exactly one of teacher_arm and '
            'teacher_config', 'teacher_arm names a train arm of the study '
            "whose run of the same seed is the teacher; teacher_config "
            '(+ teacher_checkpoint) a teacher outside the study.')
    if 'teacher_arm' in raw and ('teacher_checkpoint' in raw
                                 or 'teacher_cfg_options' in raw):
        fail(
            where, 'teacher_checkpoint / teacher_cfg_options with '
            'teacher_arm', 'The teacher arm\'s own config and final '
            'checkpoint are used; drop them.')
    if not isinstance(raw.get('unlabeled'), str):
        fail(
            where, 'no unlabeled source', 'Give unlabeled= (an image '
            'folder, list file or image-only COCO JSON, as '
            'tools/self_train.py --unlabeled takes).')
    arm.teacher_arm = raw.get('teacher_arm')
    if 'teacher_config' in raw:
        arm.teacher_config = _resolve(raw['teacher_config'], base_dir, where)
    arm.teacher_cfg_options = _options(raw, 'teacher_cfg_options', where)
    arm.teacher_checkpoint = raw.get('teacher_checkpoint')
    arm.unlabeled = raw['unlabeled']
    arm.img_root = raw.get('img_root')
    arm.pseudo_gt = raw.get('pseudo_gt')
    arm.rounds = raw.get('rounds', 1)
    if not is_int(arm.rounds) or arm.rounds < 1:
        fail(where, f'rounds={arm.rounds!r}', 'rounds is an int >= 1.')
    thrs = [raw.get('score_thr', 0.5)] + list(raw.get('quality_thrs', []))
    if not all(isinstance(t, (int, float)) and 0 <= t <= 1 for t in thrs):
        fail(where, f'score_thr / quality_thrs {thrs}', 'Scores are in '
             '[0, 1].')
    arm.score_thr = float(thrs[0])
    arm.quality_thrs = [float(t) for t in thrs[1:]]
    arm.quality_match = raw.get('quality_match', 'image_id')
    if arm.quality_match not in MATCH_BY:
        fail(where, f'quality_match={arm.quality_match!r}',
             f'Use one of {MATCH_BY}.')
    arm.student_init = _student_init(raw.get('student_init'), base_dir, where)


def _student_init(value, base_dir, where):
    """A self_train arm's ``student_init``: ``'teacher'``, ``'random'``, a
    URL or a checkpoint file (relative to the study config's folder, else
    to the working directory; made absolute)."""
    if value is None or (isinstance(value, str) and
                         (value in STUDENT_INITS or '://' in value)):
        return value
    if not isinstance(value, str) or not value:
        fail(
            where, f'student_init={value!r}', f'Use one of {STUDENT_INITS} '
            '(the teacher\'s final weights, Zoph et al. 2020 Sec. 3.2, or '
            'random init, App. C) or a checkpoint path.')
    return _resolve(value, base_dir, f'{where}: student_init')


def _parse_metrics(raw, where) -> List[Metric]:
    if not isinstance(raw, (list, tuple)) or not raw:
        fail(
            where, 'no metrics', 'List the scalars to compare, e.g. '
            "metrics=[dict(key='coco/bbox_mAP', name='box AP', "
            'scale=100)].')
    out = []
    for i, m in enumerate(raw):
        at = f'{where}: metrics[{i}]'
        m = dict(key=m) if isinstance(m, str) else m
        if not isinstance(m, dict) or not isinstance(m.get('key'), str):
            fail(
                at, f'{m!r}', 'A metric is a scalar name or a dict with '
                'key= (and name=, scale=, digits=).')
        _check_keys(at, m, METRIC_KEYS)
        out.append(Metric(**m))
    keys = [m.key for m in out]
    if len(set(keys)) != len(keys):
        fail(where, f'repeated metric keys {keys}', 'List each once.')
    return out


def _parse_table(raw, i, metrics, arms, where) -> Table:
    at = f'{where}: tables[{i}]'
    if not isinstance(raw, dict):
        fail(at, f'{raw!r}', 'A table is a dict.')
    _check_keys(at, raw, TABLE_KEYS)
    keys = [m.key for m in metrics]
    table = Table(
        title=raw.get('title', f'Table {i + 1}'),
        metrics=list(raw.get('metrics', keys)),
        rows=tuple([raw['rows']] if isinstance(raw.get('rows'), str) else raw.
                   get('rows', (ARM, ))),
        columns=raw.get('columns', METRIC),
        where={
            str(k): str(v)
            for k, v in raw.get('where', {}).items()
        })
    bad = [k for k in table.metrics if k not in keys]
    if bad or not table.metrics:
        fail(at, f'metrics {table.metrics}', f'Use keys of the study\'s '
             f'metrics {keys}.')
    if table.columns != METRIC and len(table.metrics) != 1:
        fail(
            at, f'columns={table.columns!r} with {len(table.metrics)} '
            'metrics', 'A table compared along a label shows one metric; '
            'make one table per metric.')
    chosen = [a for a in arms if table.selects(a)]
    if not chosen:
        fail(at, f'no arm has labels {table.where}', 'Fix where=.')
    axes = [r for r in table.rows if r != ARM]
    if table.columns != METRIC:
        axes.append(table.columns)
    for a in chosen:
        missing = [x for x in axes if x not in a.labels]
        if missing:
            fail(
                at, f'arm {a.name!r} has no label(s) {missing} '
                f'(labels {a.labels})', 'Give every arm of the table '
                'these labels (labels= or grid=), or narrow where=.')
    cells = {}
    for a in chosen:
        cell = (tuple(a.name if r == ARM else a.labels[r] for r in table.rows),
                a.labels[table.columns] if table.columns != METRIC else '')
        if cell in cells:
            fail(
                at, f'arms {cells[cell]!r} and {a.name!r} fall in the same '
                f'cell {cell}', 'Add a row label that tells them apart, or '
                'narrow where=.')
        cells[cell] = a.name
    return table


def parse_study(cfg: Config) -> Study:
    """Validate a loaded study config and expand its grids.

    Args:
        cfg (Config): The study config (``Config.fromfile``).

    Returns:
        Study: Arms with absolute config paths.

    Raises:
        StudyConfigError: naming the key, the problem and the fix.
    """
    where = f'study config {cfg.filename}'
    base_dir = osp.dirname(osp.abspath(cfg.filename or '.'))
    _check_keys(where, [k for k in cfg.keys() if not k.startswith('_')],
                TOP_KEYS)
    raw_arms = cfg.get('arms')
    if not isinstance(raw_arms, (list, tuple)) or not raw_arms:
        fail(
            where, 'no arms', 'List the arms: arms=[dict(name=..., '
            'config=..., seeds=[0, 1]), ...].')
    arms = []
    templates = {}  # grid arm name -> (its gain_over as written, values)
    for i, raw in enumerate(raw_arms):
        at = f'{where}: arms[{i}]'
        if not isinstance(raw, dict):
            fail(at, f'{raw!r}', 'An arm is a dict.')
        for arm_raw, values in expand_grid(dict(raw), at):
            arms.append(_parse_arm(arm_raw, values, base_dir, at))
            if values and 'gain_over' in raw:
                templates[arms[-1].name] = (raw['gain_over'], values)
    names = [a.name for a in arms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        fail(where, f'arm names {dup} repeated', 'Arm names are unique.')
    check_links(arms, where)
    references = cfg.get('references', {})
    if not isinstance(references, dict):
        fail(
            where, 'references is not a dict', 'references maps arm name '
            '-> {metric key: the paper\'s number}.')
    for name, ref in references.items():
        if name not in names or not isinstance(ref, dict):
            fail(
                where, f'references[{name!r}]', f'Keys are arm names '
                f'{names}, values dicts metric key -> number (or -> '
                'dict(value=..., gain=...)).')
        value, gain = _references(ref, f'{where}: references[{name!r}]')
        arms[names.index(name)].reference.update(value)
        arms[names.index(name)].reference_gain.update(gain)
    metrics = _parse_metrics(cfg.get('metrics'), where)
    keys = [m.key for m in metrics]
    for a in arms:
        bad = sorted((set(a.reference) | set(a.reference_gain)) - set(keys))
        if bad:
            fail(
                where, f'arm {a.name!r}: reference for {bad}, not among '
                f'the metrics {keys}', 'Add the metric or drop it.')
    study = Study(
        name=str(
            cfg.get('name') or osp.splitext(osp.basename(cfg.filename))[0]),
        filename=osp.abspath(cfg.filename),
        arms=arms,
        metrics=metrics,
        tables=[],
        curve_metrics=[],
        description=str(cfg.get('description', '')))
    check_gains(study, templates, where)
    tables = [
        _parse_table(t, i, metrics, arms, where)
        for i, t in enumerate(cfg.get('tables') or [dict(title='Results')])
    ]
    curve = list(cfg.get('curve_metrics', keys[:1]))
    if not all(k in keys for k in curve):
        fail(where, f'curve_metrics {curve}', f'Use metric keys {keys}.')
    study.tables, study.curve_metrics = tables, curve
    study.claims, study.verdict_k = parse_claims(
        cfg.get('claims', []), cfg.get('verdict_k', VERDICT_K), study, where)
    return study


def load_study(path: str) -> Study:
    """Read and validate the study config file ``path``."""
    if not osp.isfile(path):
        raise StudyConfigError(f'study config {path} does not exist.')
    try:
        cfg = Config.fromfile(path)
    except Exception as e:  # noqa: BLE001 (syntax, env, _base_ errors...)
        raise StudyConfigError(
            f'study config {path} cannot be read: {e!r}') from e
    return parse_study(cfg)
