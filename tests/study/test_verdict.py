"""Verdicts on a paper's claims (rethink_mmdet.study.verdict): the rule on
hand-made numbers (each verdict for each expectation, the boundaries, one
seed), the config errors, and the claims table of a report written from
hand-made work dirs (no training)."""
import json
import math
import os
import os.path as osp

import pytest
from mmengine.config import Config

from rethink_mmdet.study.report import write_report
from rethink_mmdet.study.schema import StudyConfigError, study_to_dict
from rethink_mmdet.study.state import STUDY_COPY, StudyState
from rethink_mmdet.study.validate import load_study, parse_study
from rethink_mmdet.study.verdict import (apply_requirements, evaluate_claims,
                                         judge, rule_text)
from tests.study.helpers import load_json, run_result
from tests.study.test_schema import BOX, arm, parse

AG, DIS, INC = 'agrees', 'disagrees', 'inconclusive'


# Numbers exact in binary floating point: k * se and d +- k * se are exact,
# so the boundaries are met exactly on any CPU.
@pytest.mark.parametrize(
    'd, se, expect, margin, k, verdict',
    [
        # greater: d > k se agrees, d < -k se disagrees
        (1.0, 0.25, 'greater', None, 2, AG),
        (-1.0, 0.25, 'greater', None, 2, DIS),
        (0.25, 0.25, 'greater', None, 2, INC),
        (0.5, 0.25, 'greater', None, 2, INC),  # d = k se: not beyond it
        (-0.5, 0.25, 'greater', None, 2, INC),
        (0.5, 0.25, 'greater', None, 1, AG),  # the same with k = 1
        (1.0, 0.25, 'greater', None, 4, INC),  # k = 4: d = k se
        (0.25, 0.0, 'greater', None, 2, AG),  # no spread over seeds
        (0.0, 0.0, 'greater', None, 2, INC),
        # less: the mirror
        (-1.0, 0.25, 'less', None, 2, AG),
        (1.0, 0.25, 'less', None, 2, DIS),
        (0.0, 0.25, 'less', None, 2, INC),
        (-0.5, 0.25, 'less', None, 2, INC),
        (0.5, 0.25, 'less', None, 2, INC),
        # equal within m: [d - k se, d + k se] inside [-m, m] agrees,
        # entirely outside disagrees
        (0.5, 0.25, 'equal', 2.0, 2, AG),
        (1.5, 0.25, 'equal', 2.0, 2, AG),  # [1, 2]: touches m, inside
        (-1.5, 0.25, 'equal', 2.0, 2, AG),
        (1.75, 0.25, 'equal', 2.0, 2, INC),  # [1.25, 2.25] crosses m
        (2.5, 0.25, 'equal', 2.0, 2, INC),  # [2, 3]: touches m, not outside
        (3.0, 0.25, 'equal', 2.0, 2, DIS),  # [2.5, 3.5]
        (-3.0, 0.25, 'equal', 2.0, 2, DIS),
        (0.0, 1.5, 'equal', 2.0, 2, INC),  # [-3, 3]: too noisy to tell
        (1.5, 0.5, 'equal', 2.0, 1, AG),  # k = 1: [1, 2]
        (1.5, 0.5, 'equal', 2.0, 2, INC),  # k = 2: [0.5, 2.5]
    ])
def test_rule(d, se, expect, margin, k, verdict):
    got, reason = judge(d, se, expect, margin, k)
    assert got == verdict, reason
    lo, hi = d - k * se, d + k * se
    assert f'd ± {k:g} se = [{lo:+.2f}, {hi:+.2f}]' in reason


def test_rule_reasons_and_arguments():
    assert judge(1.0, 0.25,
                 'greater') == (AG, 'd ± 2 se = [+0.50, +1.50], all above 0')
    assert judge(1.0, 0.25,
                 'less') == (DIS, 'd ± 2 se = [+0.50, +1.50], all above 0')
    assert judge(3.0, 0.25, 'equal',
                 2.0) == (DIS, 'd ± 2 se = [+2.50, +3.50] outside ±2')
    assert judge(
        0.0, 1.5, 'equal', 2.0,
        digits=1) == (INC, 'd ± 2 se = [-3.0, +3.0] crosses ±2')
    # one seed in an arm: no standard error, no verdict
    assert judge(5.0, None, 'greater') == (INC, 'one seed: no standard error')
    assert judge(None, None, 'equal', 1.0) == (INC, 'no result')
    for args in [(1.0, 0.1, 'bigger'), (1.0, 0.1, 'equal'),
                 (1.0, 0.1, 'equal', 0.0), (1.0, 0.1, 'equal', -1.0),
                 (1.0, 0.1, 'greater', None, 0)]:
        with pytest.raises(ValueError):
            judge(*args)


ARMS = [arm('a', seeds=[0, 1, 2]), arm('b', seeds=[0, 1, 2]), arm('c')]


def claim(name='c1', **kw):
    return dict(
        dict(
            name=name,
            paper='He et al. 2019, Table 1',
            metric=BOX,
            arm='a',
            over='b',
            expect='greater'), **kw)


@pytest.mark.parametrize(
    'claims, message',
    [
        ([claim(mergin=1.0)], r"\('c1'\): unknown key\(s\) \['mergin'\]"),
        ([claim(arm='x')
          ], r"\('c1'\): arm='x' is not another arm of the study"),
        ([claim(over='a-{x}')], "over='a-{x}' is not another arm"),
        ([claim(over='a')], "over='a' is not another arm"),
        ([claim(arm=['a'])], r"arm=\['a'\] is not another arm"),
        ([{
            k: v
            for k, v in claim().items() if k != 'arm'
        }], 'arm=None'),
        ([claim(expect='bigger')], r"\('c1'\): expect='bigger'"),
        ([claim(expect=None)], 'expect=None'),
        ([claim(expect='equal')], "expect='equal' with margin=None"),
        ([claim(expect='equal', margin=0)], "expect='equal' with margin=0"),
        ([claim(expect='equal', margin=-1.0)], 'margin=-1.0'),
        ([claim(expect='equal', margin='2')], "margin='2'"),
        ([claim(margin=1.0)], "margin with expect='greater'"),
        ([claim(metric='coco/segm_mAP')], r"\('c1'\): metric='coco/segm_mAP'"),
        ([claim(paper='')], r"\('c1'\): no paper"),
        ([claim(), claim()], r"claims\[1\] \('c1'\): name repeated"),
        ([claim(requires=['c2']), claim('c2')], r"requires=\['c2'\]"),
        ([claim(requires=['c1'])], r"requires=\['c1'\]"),  # itself
        ([claim(), claim('c2', requires='c1')], "requires='c1'"),
        ([claim(name='a claim')], r'claims\[0\]: .* name of letters'),
        (['a > b'], r'claims\[0\]'),
        (dict(c1=claim()), 'claims is a list'),
    ])
def test_claim_errors(tmp_path, claims, message):
    with pytest.raises(StudyConfigError, match=message) as err:
        parse(tmp_path, arms=ARMS, claims=claims)
    assert 'study.py' in str(err.value)  # the message names the file


@pytest.mark.parametrize('k', [0, -2.0, '2', True])
def test_verdict_k_errors(tmp_path, k):
    with pytest.raises(StudyConfigError, match='verdict_k='):
        parse(tmp_path, arms=ARMS, claims=[claim()], verdict_k=k)


def test_claims_parse_and_survive_the_copy(tmp_path):
    study = parse(
        tmp_path,
        arms=ARMS,
        claims=[claim(), claim('c2', expect='equal', margin=2)])
    c1, c2 = study.claims
    assert (c1.expect, c1.margin, c2.margin) == ('greater', None, 2.0)
    assert study.verdict_k == 2.0  # the default
    assert (rule_text(c1, 2.0), rule_text(c2, 2.5)) == ('d > 2 se',
                                                        'd ± 2.5 se within ±2')
    copy = Config(study_to_dict(study), filename=str(tmp_path / 'study.py'))
    assert parse_study(copy) == study
    assert parse(tmp_path, arms=ARMS, verdict_k=3).claims == []


def run(arm_name, seed, value, status='done'):
    return run_result(arm_name, seed, {BOX: value}, status=status)


def test_evaluate_claims(tmp_path):
    study = parse(
        tmp_path,
        arms=ARMS,
        verdict_k=4,
        claims=[
            claim(),
            claim('c-over-b', arm='c'),
            claim('b-over-a', arm='b', over='a', expect='less')
        ])
    results = [
        run('a', 0, 0.40),
        run('a', 1, 0.41),
        run('a', 2, 0.42),
        run('b', 0, 0.38),
        run('b', 1, 0.39),
        run('b', 2, 0.90, status='running'),  # not finished: left out
        run('c', 0, 0.50),
    ]
    ab, cb, ba = evaluate_claims(study, results)
    # in box AP points: a 40, 41, 42 (s = 1), b 38, 39 (s = 0.707)
    se = math.sqrt(1 / 3 + 0.5 / 2)
    assert ab['values'] == pytest.approx([40.0, 41.0, 42.0])
    assert (ab['d'], ab['se']) == pytest.approx((2.5, se))
    assert (ab['seeds'], ab['over_seeds'], ab['k']) == ([3, 3], [2, 3], 4.0)
    # 4 se = 3.06 > d = 2.5: with verdict_k = 4 the difference is not shown
    assert (ab['verdict'], ab['rule']) == (INC, 'd > 4 se')
    assert (ba['d'], ba['verdict']) == (pytest.approx(-2.5), INC)
    assert cb['verdict'] == INC
    assert cb['reason'] == 'c: one seed: no standard error'
    with_k2 = parse(tmp_path, arms=ARMS, claims=[claim()])
    assert evaluate_claims(with_k2, results)[0]['verdict'] == AG
    nothing = evaluate_claims(with_k2, results[:3])[0]
    assert (nothing['d'], nothing['verdict']) == (None, INC)
    assert nothing['reason'] == 'b: no finished run with a value'


@pytest.mark.parametrize(
    'condition, own, verdict',
    [
        (AG, AG, AG),  # the condition holds: the claim's own verdict
        (AG, DIS, DIS),
        (AG, INC, INC),
        (DIS, DIS, INC),  # it does not: not tested, whatever its own says
        (DIS, AG, INC),
        (INC, AG, INC),
    ])
def test_requirements_on_hand_made_verdicts(condition, own, verdict):
    claims = [
        dict(name='converged', requires=[], verdict=condition, reason='r0'),
        dict(name='free', requires=[], verdict=own, reason='r1'),
        dict(
            name='catch-up', requires=['converged'], verdict=own, reason='r2')
    ]
    cond, free, catch = apply_requirements(claims)
    assert (cond['verdict'], free['verdict']) == (condition, own)
    assert catch['verdict'] == verdict
    if verdict == own and condition == AG:
        assert 'verdict_untested' not in catch and catch['reason'] == 'r2'
    else:
        assert catch['verdict_untested'] == own
        assert catch['reason'] == (
            f'not tested: its condition does not hold (converged '
            f'{condition}); on its own: {own}, r2')
    # a chain: a claim that requires an untested claim is not tested either
    chain = apply_requirements([
        dict(name='a', requires=[], verdict=DIS, reason=''),
        dict(name='b', requires=['a'], verdict=AG, reason=''),
        dict(name='c', requires=['b'], verdict=AG, reason='')
    ])
    assert [c['verdict'] for c in chain] == [DIS, INC, INC]
    assert '(b inconclusive)' in chain[2]['reason']


def test_evaluate_claims_with_a_condition(tmp_path):
    study = parse(
        tmp_path,
        arms=ARMS,
        claims=[
            claim('b-over-a', arm='b', over='a'),
            claim('a-over-b', requires=['b-over-a'])
        ])
    results = [run('a', s, 0.40 + s / 100) for s in range(3)]
    results += [run('b', s, 0.38 + s / 100) for s in range(3)]
    cond, claim_ = evaluate_claims(study, results)
    assert cond['verdict'] == DIS and claim_['verdict'] == INC
    assert claim_['verdict_untested'] == AG
    assert claim_['d'] == pytest.approx(2.0)  # its numbers are still shown
    assert claim_['requires'] == ['b-over-a']
    copy = Config(study_to_dict(study), filename=str(tmp_path / 'study.py'))
    assert parse_study(copy) == study


def write_work_dir(work_dir, value):
    vis = osp.join(work_dir, '20260101_000000', 'vis_data')
    lines = [
        dict(iter=1, step=1, loss=1.0, lr=0.01),
        {
            BOX: value,
            'step': 1
        },
    ]
    os.makedirs(vis)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(''.join(json.dumps(r) + '\n' for r in lines))


def test_report_claims_table(tmp_path):
    """A study directory as tools/study.py leaves it (the study copy, the
    state, the runs' scalars.json), with hand-made values; the report's
    claims table and report.json against hand-computed numbers."""
    study = parse(
        tmp_path,
        arms=ARMS,
        claims=[
            claim('a-over-b', paper='Zoph et al. 2020, Table 2: +1.7 | +1.3'),
            claim('b-over-a', arm='b', over='a'),
            claim('a-like-b', expect='equal', margin=2.0),
            claim('a-like-b-wide', expect='equal', margin=5),
            claim('c-over-b', arm='c'),
            claim('a-over-b-if', requires=['b-over-a']),
        ])
    study_dir = tmp_path / 'dir'
    study_dir.mkdir()
    Config(study_to_dict(study)).dump(str(study_dir / STUDY_COPY))
    state = StudyState(str(study_dir))
    state.data['study'] = dict(
        name=study.name,
        config=study.filename,
        copy=str(study_dir / STUDY_COPY))
    values = {
        ('a', 0): 0.40,
        ('a', 1): 0.41,
        ('a', 2): 0.42,
        ('b', 0): 0.38,
        ('b', 1): 0.39,
        ('b', 2): 0.90,  # pending: its value must not count
        ('c', 0): 0.45,
    }
    for (name, seed), value in values.items():
        work_dir = str(study_dir / 'runs' / f'{name}_seed{seed}')
        write_work_dir(work_dir, value)
        rec = state.upsert(
            dict(
                id=f'{name}_seed{seed}',
                arm=name,
                seed=seed,
                kind='train',
                work_dir=work_dir,
                length={'max_iters': 1}))
        rec['status'] = 'pending' if (name, seed) == ('b', 2) else 'done'
    state.save()
    report = write_report(str(study_dir), log=lambda line: None)
    text = open(report, encoding='utf-8').read()
    assert text.index('## Claims') < text.index('## Cost') < \
        text.index('## Plots')
    # d = 41 - 38.5 = 2.5; se = sqrt(1/3 + 0.5/2) = 0.764; 2 se = 1.528
    assert '| claim | paper | rule | ours | verdict |' in text
    assert ('| a-over-b | Zoph et al. 2020, Table 2: +1.7 \\| +1.3 | '
            'box AP, d = a − b: d > 2 se | +2.5 ± 0.8 (3 vs 2/3 seeds) | '
            '**agrees**: d ± 2 se = [+0.97, +4.03], all above 0 |') in text
    assert ('| b-over-a | He et al. 2019, Table 1 | box AP, d = b − a: '
            'd > 2 se | -2.5 ± 0.8 (2/3 vs 3 seeds) | **disagrees**: '
            'd ± 2 se = [-4.03, -0.97], all below 0 |') in text
    assert ('| a-like-b | He et al. 2019, Table 1 | box AP, d = a − b: '
            'd ± 2 se within ±2 | +2.5 ± 0.8 (3 vs 2/3 seeds) | '
            'inconclusive: d ± 2 se = [+0.97, +4.03] crosses ±2 |') in text
    assert ': d ± 2 se within ±5 | +2.5 ± 0.8 (3 vs 2/3 seeds) | ' \
        '**agrees**: d ± 2 se = [+0.97, +4.03] within ±5 |' in text
    assert ('| c-over-b | He et al. 2019, Table 1 | box AP, d = c − b: '
            'd > 2 se | +6.5 (1 vs 2/3 seeds) | inconclusive: c: one seed: '
            'no standard error |') in text
    claims = {
        c['name']: c
        for c in load_json(str(study_dir), 'report.json')['claims']
    }
    assert ('| a-over-b-if | He et al. 2019, Table 1 | box AP, d = a − b: '
            'd > 2 se; tested if b-over-a agrees | +2.5 ± 0.8 (3 vs 2/3 '
            'seeds) | inconclusive: not tested: its condition does not hold '
            '(b-over-a disagrees); on its own: agrees, d ± 2 se = '
            '[+0.97, +4.03], all above 0 |') in text
    assert 'not tested.' in text  # the legend says what it means
    assert [c['verdict']
            for c in claims.values()] == [AG, DIS, INC, AG, INC, INC]
    assert claims['a-over-b-if']['verdict_untested'] == AG
    ab = claims['a-over-b']
    assert (ab['d'], ab['se']) == pytest.approx(
        (2.5, math.sqrt(1 / 3 + 0.5 / 2)))
    assert ab['over_values'] == pytest.approx([38.0, 39.0])
    assert (ab['seeds'], ab['over_seeds']) == ([3, 3], [2, 3])
    assert (ab['arm'], ab['over'], ab['expect'], ab['k'],
            ab['rule']) == ('a', 'b', 'greater', 2.0, 'd > 2 se')
    assert claims['a-like-b']['margin'] == 2.0
    assert claims['c-over-b']['se'] is None
    # the study copy in the directory keeps the claims
    assert load_study(str(study_dir / STUDY_COPY)).claims == study.claims
