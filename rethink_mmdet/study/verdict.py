"""Verdicts on a paper's claims by a rule fixed in the study config before
the run (``claims``, ``verdict_k``; the format: :mod:`.schema`).

A claim compares two arms on one metric: ``d = mean(arm) - mean(over)``,
the difference of the means over the seeds of their finished runs, in the
metric's displayed units (logged value x its ``scale``, as the tables
show it, so ``margin`` is in those units too), and ``se = sqrt(s1^2/n1 +
s2^2/n2)`` its standard error (:func:`.tables.gain`). With k =
``verdict_k`` (default 2):

- ``expect='greater'``: agrees if ``d > k se``; disagrees if
  ``d < -k se``;
- ``expect='less'``: agrees if ``d < -k se``; disagrees if ``d > k se``;
- ``expect='equal'`` with ``margin`` m > 0 (an equivalence test, like
  TOST): agrees if ``[d - k se, d + k se]`` lies within ``[-m, m]``
  (``|d| + k se <= m``); disagrees if it lies entirely outside it
  (``|d| - k se > m``);
- else inconclusive; so is a claim where an arm has fewer than 2 finished
  seeds with a value (no standard error).

A claim the paper makes under a condition (He et al. Sec. 5.1: a long
schedule catches up *once the scratch arm has converged*) names the
claims that state the condition in ``requires``; unless each of them
agrees, it is inconclusive, "not tested", whatever its own interval says
(:func:`apply_requirements`).
"""
from typing import List, Optional, Tuple

from .results import RunResult
from .schema import CLAIM_KEYS, EXPECTS, NAME_RE, VERDICT_K, Claim, Study, fail
from .state import DONE
from .tables import gain

__all__ = [
    'judge', 'rule_text', 'parse_claims', 'apply_requirements',
    'evaluate_claims'
]

AGREES, DISAGREES, INCONCLUSIVE = 'agrees', 'disagrees', 'inconclusive'


def _num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def judge(d: float,
          se: float,
          expect: str,
          margin: Optional[float] = None,
          k: float = VERDICT_K,
          digits: int = 2) -> Tuple[str, str]:
    """The verdict on one claim (the rule: the module docstring).

    Args:
        d (float): Difference of the two arms' means.
        se (float, optional): Its standard error; None: inconclusive.
        expect (str): ``'greater'``, ``'less'`` or ``'equal'``.
        margin (float, optional): ``'equal'``: the margin m > 0.
        k (float): The multiple of ``se``. Defaults to 2.
        digits (int): Decimals of the numbers in the reason. Defaults to 2.

    Returns:
        tuple[str, str]: ``'agrees'``, ``'disagrees'`` or
        ``'inconclusive'``, and the reason.
    """
    if expect not in EXPECTS:
        raise ValueError(f'expect={expect!r}: use one of {EXPECTS}')
    if expect == 'equal' and not (_num(margin) and margin > 0):
        raise ValueError(f"expect='equal' needs a margin > 0, got {margin}")
    if not k > 0:
        raise ValueError(f'k={k}: the multiple of se is > 0')
    if d is None or se is None:
        return INCONCLUSIVE, ('no result'
                              if d is None else 'one seed: no standard error')
    lo, hi = d - k * se, d + k * se
    span = f'd ± {k:g} se = [{lo:+.{digits}f}, {hi:+.{digits}f}]'
    if expect == 'equal':
        if abs(d) + k * se <= margin:
            return AGREES, f'{span} within ±{margin:g}'
        if abs(d) - k * se > margin:
            return DISAGREES, f'{span} outside ±{margin:g}'
        return INCONCLUSIVE, f'{span} crosses ±{margin:g}'
    if abs(d) > k * se:  # the interval excludes 0
        agrees = (d > 0) == (expect == 'greater')
        return (AGREES if agrees else DISAGREES), \
            f'{span}, all {"above" if d > 0 else "below"} 0'
    return INCONCLUSIVE, f'{span} includes 0'


def rule_text(claim: Claim, k: float) -> str:
    """The rule in words, e.g. ``'d > 2 se'`` or ``'d ± 2 se within
    ±2'``."""
    if claim.expect == 'equal':
        return f'd ± {k:g} se within ±{claim.margin:g}'
    return f'd > {k:g} se' if claim.expect == 'greater' else \
        f'd < -{k:g} se'


def parse_claims(raw, k, study: Study, where: str) -> Tuple[list, float]:
    """Validate the ``claims`` and ``verdict_k`` of a study config.

    Args:
        raw (list[dict] | None): The config's ``claims``.
        k: The config's ``verdict_k``.
        study (Study): The study's arms and metrics.
        where (str): The config, for the messages.

    Returns:
        tuple[list[Claim], float]: The claims and k.
    """
    if not _num(k) or k <= 0:
        fail(
            where, f'verdict_k={k!r}', 'verdict_k is the multiple of the '
            'standard error in the claims\' rule, a number > 0 (e.g. 2).')
    if not isinstance(raw, (list, tuple)):
        fail(where, f'claims={raw!r}', 'claims is a list of dicts.')
    arms, keys = [a.name for a in study.arms], [m.key for m in study.metrics]
    out: List[Claim] = []
    for i, c in enumerate(raw):
        at = f'{where}: claims[{i}]'
        if not isinstance(c, dict) or not isinstance(
                c.get('name'), str) or not NAME_RE.match(c['name']):
            fail(
                at, f'{c!r}', 'A claim is a dict with a name of letters, '
                f'digits and _.+- and the keys {", ".join(CLAIM_KEYS)}.')
        at += f' ({c["name"]!r})'
        unknown = sorted(set(c) - set(CLAIM_KEYS))
        if unknown:
            fail(at, f'unknown key(s) {unknown}',
                 f'Known keys: {", ".join(CLAIM_KEYS)}.')
        if c['name'] in [o.name for o in out]:
            fail(at, 'name repeated', 'Claim names are unique.')
        if not isinstance(c.get('paper'), str) or not c['paper'].strip():
            fail(
                at, 'no paper', 'Say where the paper claims it, e.g. '
                "paper='He et al. 2019, Table 1'.")
        if c.get('metric') not in keys:
            fail(at, f'metric={c.get("metric")!r}',
                 f'Use a key of the study\'s metrics {keys}.')
        others = [a for a in arms if a != c.get('arm')]
        for key, names in (('arm', arms), ('over', others)):
            if c.get(key) not in names:
                fail(
                    at, f'{key}={c.get(key)!r} is not another arm of the '
                    'study', f'd = mean(arm) - mean(over); arms: {arms}.')
        if c.get('expect') not in EXPECTS:
            fail(at, f'expect={c.get("expect")!r}', f'Use one of {EXPECTS}.')
        margin = c.get('margin')
        if c['expect'] == 'equal' and not (_num(margin) and margin > 0):
            fail(
                at, f"expect='equal' with margin={margin!r}", 'Give the '
                'equivalence margin, a number > 0 in the metric\'s shown '
                'units (after scale), e.g. margin=1.0 for 1 AP point.')
        if c['expect'] != 'equal' and margin is not None:
            fail(at, f'margin with expect={c["expect"]!r}',
                 "Only expect='equal' takes a margin; drop it.")
        requires = c.get('requires', [])
        before = [o.name for o in out]
        if not isinstance(requires, (list, tuple)) or any(r not in before
                                                          for r in requires):
            fail(
                at, f'requires={requires!r}', 'requires lists the names of '
                f'claims given before this one: {before}.')
        out.append(
            Claim(**dict(
                c,
                margin=None if margin is None else float(margin),
                requires=list(requires))))
    return out, float(k)


def apply_requirements(verdicts: List[dict]) -> List[dict]:
    """Make each claim whose ``requires`` do not all agree inconclusive.

    Args:
        verdicts (list[dict]): Per claim, in the config's order, its
            ``name``, ``requires``, ``verdict`` and ``reason`` (as
            :func:`evaluate_claims` builds them); changed in place.

    Returns:
        list[dict]: ``verdicts``; a claim not tested keeps its own verdict
        as ``verdict_untested`` and its reason after the condition's.
    """
    final = {}
    for v in verdicts:
        unmet = [
            f'{r} {final[r]}' for r in v.get('requires', [])
            if final[r] != AGREES
        ]
        if unmet:
            v['verdict_untested'] = v['verdict']
            v['reason'] = (f'not tested: its condition does not hold '
                           f'({"; ".join(unmet)}); on its own: '
                           f'{v["verdict"]}, {v["reason"]}')
            v['verdict'] = INCONCLUSIVE
        final[v['name']] = v['verdict']
    return verdicts


def _finished(study: Study, results: List[RunResult], key: str,
              arm: str) -> List[float]:
    """The scaled values of ``key`` of the finished runs of ``arm``."""
    scale = study.metric(key).scale
    return [
        r.metrics[key] * scale for r in results
        if r.arm == arm and r.status == DONE and r.metrics.get(key) is not None
    ]


def evaluate_claims(study: Study, results: List[RunResult]) -> List[dict]:
    """Every claim of the study judged on the finished runs' values.

    Returns:
        list[dict]: Per claim its keys, ``k``, ``rule``, ``values`` /
        ``over_values`` (scaled, one per finished seed with a value),
        ``seeds`` / ``over_seeds`` (``[with a value, of the arm]``),
        ``d``, ``se``, ``verdict`` and ``reason``.
    """
    out, k = [], study.verdict_k
    for c in study.claims:
        mine, base = (
            _finished(study, results, c.metric, n) for n in (c.arm, c.over))
        d, se = gain(mine, base)
        short = [
            f'{n}: ' + ('one seed: no standard error'
                        if v else 'no finished run with a value')
            for n, v in ((c.arm, mine), (c.over, base)) if len(v) < 2
        ]
        verdict, reason = (INCONCLUSIVE, '; '.join(short)) if short else \
            judge(d, se, c.expect, c.margin, k,
                  study.metric(c.metric).digits + 1)
        out.append(
            dict(
                vars(c),
                k=k,
                rule=rule_text(c, k),
                values=mine,
                over_values=base,
                seeds=[len(mine), len(study.arm(c.arm).seeds)],
                over_seeds=[len(base), len(study.arm(c.over).seeds)],
                d=d,
                se=se,
                verdict=verdict,
                reason=reason))
    return apply_requirements(out)
