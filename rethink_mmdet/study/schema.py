"""Study configs: a paper's grid of arms as one mmengine config file.

He et al. 2019 (Table 1, Fig. 1/2) and Zoph et al. 2020 (Tables 1-4) are
comparisons: arms (an inheriting detector config plus a few overrides,
trained with one or more seeds) laid out as tables with the compared axis
(schedule, data size, augmentation strength) as columns. A study config
states exactly that::

    name = 'he2019-gn'
    arms = [
        dict(name='r50-scratch-{sched}',
             config='../rethinking-imagenet-pretraining/'
                    'mask-rcnn_r50-scratch_fpn_gn-all_{sched}_coco.py',
             grid=dict(sched=['2x', '3x']),          # one arm per value
             labels=dict(model='R50', init='random init'),
             cfg_options={'train_dataloader.batch_size': 2},
             seeds=[0, 1]),
        dict(name='selftrain', kind='self_train', config='student.py',
             teacher_arm='r50-scratch-2x', unlabeled='data/unlabeled',
             counterpart='r50-scratch-2x', seed=0),
        # Zoph et al. App. C: the student from random init instead of its
        # teacher's weights (student_init: 'teacher', the default of
        # tools/self_train.py and of the student config's own key,
        # 'random' or a checkpoint path)
        dict(name='selftrain-random', kind='self_train',
             config='student.py', teacher_arm='r50-scratch-2x',
             unlabeled='data/unlabeled', student_init='random', seed=0),
        # starts from another arm's final checkpoint (a pre-training arm):
        # its path goes into the config key init_key (default load_from)
        dict(name='r50-pretrained-2x', config='finetune.py',
             init_arm='cls-pretrain',
             init_key='model.backbone.init_cfg.checkpoint'),
    ]
    metrics = [dict(key='coco/bbox_mAP', name='box AP', scale=100)]
    tables = [dict(title='Box AP', metrics=['coco/bbox_mAP'],
                   rows=['model', 'init'], columns='sched')]
    references = {'r50-scratch-2x': {'coco/bbox_mAP': 36.8}}

``references`` (or an arm's ``reference``) give the paper's numbers by
arm and metric: a number, or ``dict(value=..., gain=...)`` with either
key or both, where ``gain`` is the paper's gain of the arm over the arm
named by its ``gain_over`` (Zoph et al. 2020, Table 2: "Rand Init +
self-training: +1.7 over Rand Init"). An arm with ``gain_over`` (a grid
arm's is formatted with the grid values, like ``teacher_arm``) gets a
gains table in the report: our gain (difference of the means over seeds)
beside the paper's, stated or, where both arms have a ``value``, their
difference::

    arms = [
        dict(name='effb7-scratch-{aug}', config='rand_init_{aug}.py',
             grid=dict(aug=['s1', 's4']), labels=dict(init='Rand Init')),
        dict(name='effb7-st-{aug}', kind='self_train', config='st_{aug}.py',
             grid=dict(aug=['s1', 's4']), labels=dict(init='Rand Init + ST'),
             teacher_arm='effb7-scratch-{aug}', unlabeled='data/imagenet',
             gain_over='effb7-scratch-{aug}'),
    ]
    references = {
        'effb7-scratch-s1': {'coco/bbox_mAP': 39.2},
        'effb7-st-s1': {'coco/bbox_mAP': dict(value=40.9, gain=1.7)},
        'effb7-st-s4': {'coco/bbox_mAP': dict(gain=1.3)},  # gain only
    }

``claims`` state a paper's claims as tests on the study's results, with
the rule fixed in the config before the run (:mod:`.verdict`): each
compares two arms on one metric, ``d = mean(arm) - mean(over)`` over the
seeds of their finished runs, in the metric's displayed units (the
logged value x its ``scale``, as the tables show it), against ``k`` (the
top-level ``verdict_k``, default 2) times its standard error ``se``
(the gains table's ``sqrt(s1^2/n1 + s2^2/n2)``)::

    claims = [
        dict(name='he-long-catch-up',
             paper='He et al. 2019, Sec. 5.1 / Table 1: from random init, '
                   'a long schedule matches ImageNet pre-training',
             metric='coco/bbox_mAP', arm='scratch-6x', over='pretrained-6x',
             expect='equal', margin=2.0),    # in box AP points (scale 100)
        dict(name='st-helps-s4', paper='Zoph et al. 2020, Table 2',
             metric='coco/bbox_mAP', arm='st-s4', over='rand-s4',
             expect='greater'),
    ]
    verdict_k = 2.0

``expect='greater'`` agrees if ``d > k se``, disagrees if ``d < -k se``;
``'less'`` the mirror; ``'equal'`` (an equivalence test, like TOST; needs
``margin`` m > 0 and only it takes one) agrees if ``[d - k se, d + k se]``
lies within ``[-m, m]``, disagrees if it lies entirely outside
(``|d| - k se > m``). Anything else, and an arm with fewer than 2
finished seeds with a value (no standard error), is inconclusive. A
claim made under a condition names the claims that state it,
``requires=['scratch-converged']`` (listed before it): unless each of
them agrees, the claim is inconclusive, "not tested". The report's
"Claims" section gives each verdict with its numbers.

Top-level names starting with ``_`` are helpers of the file (shared
override dicts, a data root) and are ignored; any other unknown key is an
error, as is an unknown key inside an arm, metric or table.
"""
import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

__all__ = [
    'TRAIN', 'SELF_TRAIN', 'KINDS', 'ARM', 'METRIC', 'LOAD_FROM',
    'REFERENCE_KEYS', 'CLAIM_KEYS', 'EXPECTS', 'VERDICT_K', 'StudyConfigError',
    'Metric', 'Table', 'Arm', 'Claim', 'Study', 'fail', 'study_to_dict'
]

TRAIN = 'train'
SELF_TRAIN = 'self_train'
KINDS = (TRAIN, SELF_TRAIN)
#: ``rows`` / ``columns`` value: one row per arm (its name).
ARM = 'arm'
#: ``columns`` value: one column per metric of the table.
METRIC = 'metric'
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]*$')

TOP_KEYS = ('name', 'description', 'arms', 'metrics', 'tables', 'references',
            'curve_metrics', 'claims', 'verdict_k')
COMMON_ARM_KEYS = ('name', 'kind', 'config', 'cfg_options', 'seed', 'seeds',
                   'labels', 'grid', 'reference', 'counterpart', 'init_arm',
                   'init_key', 'gain_over')
#: Default ``init_key``: mmengine loads the whole model from it.
LOAD_FROM = 'load_from'
SELF_TRAIN_KEYS = ('teacher_arm', 'teacher_config', 'teacher_cfg_options',
                   'teacher_checkpoint', 'unlabeled', 'img_root', 'rounds',
                   'score_thr', 'pseudo_gt', 'quality_thrs', 'quality_match',
                   'student_init')
#: Arm fields expanded with the ``grid`` values (``str.format``).
FORMATTED = ('name', 'config', 'teacher_arm', 'teacher_config',
             'teacher_checkpoint', 'unlabeled', 'img_root', 'counterpart',
             'pseudo_gt', 'init_arm', 'init_key', 'gain_over', 'student_init')
#: Keys of a dict reference (one metric of one arm): the paper's number
#: and its gain over the arm's ``gain_over``.
REFERENCE_KEYS = ('value', 'gain')
METRIC_KEYS = ('key', 'name', 'scale', 'digits')
TABLE_KEYS = ('title', 'metrics', 'rows', 'columns', 'where')
MATCH_BY = ('image_id', 'file_name')
CLAIM_KEYS = ('name', 'paper', 'metric', 'arm', 'over', 'expect', 'margin',
              'requires')
#: A claim's ``expect``: the sign of ``mean(arm) - mean(over)``, or equal
#: within ``margin``.
EXPECTS = ('greater', 'less', 'equal')
#: Default ``verdict_k``: the multiple of the standard error.
VERDICT_K = 2.0


class StudyConfigError(ValueError):
    """A study config that cannot be run as written."""


@dataclass
class Metric:
    """A scalar to compare: a key of mmengine's ``scalars.json`` (a
    validation metric such as ``coco/bbox_mAP`` or a training scalar such
    as ``loss``; the final value is compared).

    Args:
        key (str): The scalar's name in ``scalars.json``.
        name (str): Column header. Defaults to ``key``.
        scale (float): Shown value = logged value x scale (100 shows
            mmdet's 0-1 AP in the papers' percent). Defaults to 1.0.
        digits (int): Decimals shown. Defaults to 1.
    """
    key: str
    name: str = ''
    scale: float = 1.0
    digits: int = 1

    def __post_init__(self):
        self.name = self.name or self.key


@dataclass
class Table:
    """One report table, laid out like the paper's.

    Args:
        title (str): The table's heading.
        metrics (list[str]): Metric keys shown (one if ``columns`` is a
            label).
        rows (tuple[str]): ``('arm',)`` or arm label names; a row is one
            combination of their values.
        columns (str): ``'metric'`` (a column per metric) or a label name
            (the compared axis: a column per value).
        where (dict): Only arms whose labels have these values.
    """
    title: str
    metrics: List[str]
    rows: Tuple[str, ...] = (ARM, )
    columns: str = METRIC
    where: Dict[str, str] = field(default_factory=dict)

    def selects(self, arm: 'Arm') -> bool:
        """Whether ``arm``'s labels have every value of ``where``."""
        return all(arm.labels.get(k) == v for k, v in self.where.items())


@dataclass
class Arm:
    """One arm of a study (after grid expansion). See the module docstring
    and :func:`parse_study` for the keys.

    ``init_arm`` names a train arm whose final checkpoint this arm starts
    from (He et al. 2019: a pre-trained backbone), written into the config
    key ``init_key`` (``load_from``, or e.g.
    ``model.backbone.init_cfg.checkpoint``): the init arm's run of the same
    seed, or its only run if it has one seed.

    ``reference`` holds the paper's numbers (metric key -> value),
    ``reference_gain`` the paper's stated gains over ``gain_over`` (metric
    key -> gain; in a config both are written as the arm's ``reference``
    or the top-level ``references``, see the module docstring).

    ``student_init`` (self-training arms) says where each student starts,
    passed to tools/self_train.py as ``--student-init``: ``'teacher'``
    (Zoph et al. 2020 Sec. 3.2), ``'random'`` (App. C) or a checkpoint
    path; None leaves it to the student config's top-level
    ``student_init`` (default ``'teacher'``), see
    :mod:`rethink_mmdet.self_training.student_init`."""
    name: str
    config: str
    kind: str = TRAIN
    cfg_options: dict = field(default_factory=dict)
    seeds: List[int] = field(default_factory=lambda: [0])
    labels: Dict[str, str] = field(default_factory=dict)
    reference: Dict[str, float] = field(default_factory=dict)
    counterpart: Optional[str] = None
    init_arm: Optional[str] = None
    init_key: str = LOAD_FROM
    gain_over: Optional[str] = None
    reference_gain: Dict[str, float] = field(default_factory=dict)
    teacher_arm: Optional[str] = None
    teacher_config: Optional[str] = None
    teacher_cfg_options: dict = field(default_factory=dict)
    teacher_checkpoint: Optional[str] = None
    unlabeled: Optional[str] = None
    img_root: Optional[str] = None
    rounds: int = 1
    score_thr: float = 0.5
    pseudo_gt: Optional[str] = None
    quality_thrs: List[float] = field(default_factory=list)
    quality_match: str = 'image_id'
    student_init: Optional[str] = None


@dataclass
class Claim:
    """A paper's claim, tested on the study's results by the rule of
    :mod:`.verdict` (see the module docstring).

    Args:
        name (str): Names the claim in the report.
        paper (str): Where the paper claims it (and what it reports).
        metric (str): The metric key compared.
        arm (str): The arm whose mean over seeds is compared ...
        over (str): ... with this arm's: ``d = mean(arm) - mean(over)``.
        expect (str): ``'greater'``, ``'less'`` or ``'equal'``.
        margin (float, optional): ``'equal'``: the equivalence margin, in
            the metric's displayed units (after ``scale``).
        requires (list[str]): Claims listed before this one that state the
            condition under which the paper makes it (e.g. "the scratch
            arm has converged" for "a long schedule catches up"). Unless
            each of them agrees, this claim is not tested: its verdict is
            inconclusive, its numbers still shown. Defaults to none.
    """
    name: str
    paper: str
    metric: str
    arm: str
    over: str
    expect: str
    margin: Optional[float] = None
    requires: List[str] = field(default_factory=list)


@dataclass
class Study:
    """A parsed, validated study config."""
    name: str
    filename: str
    arms: List[Arm]
    metrics: List[Metric]
    tables: List[Table]
    curve_metrics: List[str]
    description: str = ''
    claims: List[Claim] = field(default_factory=list)
    verdict_k: float = VERDICT_K

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(name)

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def upstream(self, arm: Arm) -> Optional[str]:
        """The arm whose training this arm builds on (its teacher or the
        arm it is initialised from), or None."""
        return arm.teacher_arm or arm.init_arm

    def paper_gain(self, arm: Arm, key: str) -> Optional[float]:
        """The paper's gain of ``arm`` over its ``gain_over`` in metric
        ``key``: the stated one, else the difference of the two arms'
        reference values where both are given, else None."""
        if arm.gain_over is None:
            return None
        if key in arm.reference_gain:
            return arm.reference_gain[key]
        over = self.arm(arm.gain_over).reference.get(key)
        mine = arm.reference.get(key)
        return None if over is None or mine is None else mine - over


def fail(where: str, problem: str, fix: str) -> None:
    """Raise :class:`StudyConfigError` naming where, what and the fix."""
    raise StudyConfigError(f'{where}: {problem}. {fix}')


def _config_reference(arm: Arm) -> dict:
    """An arm's ``reference`` as a config writes it: metric key -> the
    paper's value, or ``dict(value=..., gain=...)`` where a gain is
    stated."""
    out: dict = dict(arm.reference)
    for key, gain in arm.reference_gain.items():
        out[key] = dict(gain=gain) if key not in out else dict(
            value=out[key], gain=gain)
    return out


def study_to_dict(study: Study) -> dict:
    """The study as a config dict with its grids expanded and absolute
    paths: :func:`parse_study` of it gives the same study (the copy in the
    study directory, read by ``status`` / ``report``)."""
    arms = []
    for arm in study.arms:
        raw = {k: v for k, v in asdict(arm).items() if v is not None}
        raw.pop('reference_gain')
        raw['reference'] = _config_reference(arm)
        if not arm.init_arm:
            raw.pop('init_key')
        if arm.kind != SELF_TRAIN:
            raw = {k: v for k, v in raw.items() if k in COMMON_ARM_KEYS}
        elif arm.teacher_arm:
            raw.pop('teacher_cfg_options')
        raw['quality_thrs'] = list(arm.quality_thrs) if arm.kind == \
            SELF_TRAIN else None
        arms.append({k: v for k, v in raw.items() if v is not None})
    return dict(
        name=study.name,
        description=study.description,
        arms=arms,
        metrics=[asdict(m) for m in study.metrics],
        tables=[dict(asdict(t), rows=list(t.rows)) for t in study.tables],
        curve_metrics=list(study.curve_metrics),
        claims=[{
            k: v
            for k, v in asdict(c).items() if v is not None and v != []
        } for c in study.claims],
        verdict_k=study.verdict_k)
