# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""LossNormalizer (Zoph et al. 2020, App. B) against sequences computed by
hand (decay 0.5 and the paper's 0.9997, absent terms, the averages before
they exist), its state in ``state_dict``, the renamed key and non-finite
losses. The all-reduce across 2 gloo processes is tested with the student
under DDP (``tests/self_training/test_student.py``)."""
import pytest
import torch
from mmengine.logging import MessageHub

from mmdet.registry import MODELS
from rethink_mmdet.self_training.loss_norm import (PAPER_DECAY, LossNormalizer,
                                                   NonFiniteLossError)


def step(norm, l_h, l_p, human=True, pseudo=True, scale=1.):
    """One call with leaf tensors; returns (output, grad_h, grad_p)."""
    h = torch.tensor(float(l_h), requires_grad=True)
    p = torch.tensor(float(l_p), requires_grad=True)
    out = norm(
        h, p, human_valid=human, pseudo_valid=pseudo, pseudo_scale=scale)
    out.total.backward()
    return out, float(h.grad), float(p.grad)


def test_sequence_by_hand_including_warm_up():
    """a=1, d=0.5. Each line: Lbar_h, Lbar_p after the update (the current
    batch is in its own average), w_h = 1/(1+a), w_p = w_h*a*Lbar_h/Lbar_p.
    """
    norm = MODELS.build(
        dict(type='LossNormalizer', pseudo_weight=1., decay=0.5))
    # step 1 (first update = the observed values): Lbar_h=2, Lbar_p=4
    out, gh, gp = step(norm, 2., 4.)
    assert (out.human_avg, out.pseudo_avg) == (2., 4.)
    assert (out.human_weight, out.pseudo_weight) == (0.5, 0.25)
    assert float(out.total.detach()) == pytest.approx(0.5 * 2 + 0.25 * 4)
    assert (gh, gp) == (0.5, 0.25)
    # step 2: Lbar_h = .5*2+.5*1 = 1.5, Lbar_p = .5*4+.5*2 = 3, r = .5
    out, _, gp = step(norm, 1., 2.)
    assert (out.human_avg, out.pseudo_avg, gp) == (1.5, 3., 0.25)
    assert float(out.total.detach()) == pytest.approx(0.5 * 1 + 0.25 * 2)
    # step 3: Lbar_h = .75+2 = 2.75, Lbar_p = 1.5+.5 = 2, r = 1.375
    out, _, gp = step(norm, 4., 1.)
    assert (out.human_avg, out.pseudo_avg) == (2.75, 2.)
    assert gp == pytest.approx(0.5 * 1.375)
    assert float(out.total.detach()) == pytest.approx(0.5 * 4 + 0.6875 * 1)
    # step 4, pseudo part without boxes: Lbar_p untouched, w_p = 0,
    # Lbar_h = 1.375+1 = 2.375
    out, gh, gp = step(norm, 2., 0.3, pseudo=False)
    assert (out.human_avg, out.pseudo_avg) == (2.375, 2.)
    assert (gh, gp, out.pseudo_weight) == (0.5, 0., 0.)
    assert float(out.total.detach()) == pytest.approx(1.)
    # step 5, no human image: Lbar_h untouched, Lbar_p = 1+1.5 = 2.5,
    # r = 2.375/2.5 = .95
    out, gh, gp = step(norm, 0., 3., human=False)
    assert (out.human_avg, out.pseudo_avg) == (2.375, 2.5)
    assert gh == 0. and gp == pytest.approx(0.475)
    assert float(out.total.detach()) == pytest.approx(0.475 * 3)
    assert [
        int(norm.human_count),
        int(norm.pseudo_count),
        int(norm.num_steps)
    ] == [4, 4, 5]


def test_default_decay_is_the_papers_by_hand():
    """Zoph et al. 2020, App. B: "an exponential moving average with a decay
    rate of 0.9997". a=1 (w_h = 1/2), d=0.9997, 1-d=0.0003."""
    norm = LossNormalizer()
    assert norm.decay == PAPER_DECAY == 0.9997
    # step 1: no zero start: Lbar = the first values, r = 2/4
    out, gh, gp = step(norm, 2., 4.)
    assert (out.human_avg, out.pseudo_avg, gh, gp) == (2., 4., 0.5, 0.25)
    # step 2: Lbar_h = .9997*2 + .0003*5 = 2.0009,
    # Lbar_p = .9997*4 + .0003*1 = 3.9991
    out, gh, gp = step(norm, 5., 1.)
    assert out.human_avg == pytest.approx(2.0009, rel=1e-12)
    assert out.pseudo_avg == pytest.approx(3.9991, rel=1e-12)
    # the factor is float64; the gradient of a float32 leaf is float32
    assert out.pseudo_weight == pytest.approx(0.5 * 2.0009 / 3.9991, rel=1e-12)
    assert gp == pytest.approx(out.pseudo_weight, rel=1e-6)
    # step 3, pseudo part without boxes: Lbar_p stays 3.9991,
    # Lbar_h = .9997*2.0009 + .0003*3 = 2.00029973 + .0009 = 2.00119973
    out, gh, gp = step(norm, 3., 0.7, pseudo=False)
    assert out.human_avg == pytest.approx(2.00119973, rel=1e-12)
    assert out.pseudo_avg == pytest.approx(3.9991, rel=1e-12)
    assert (gh, gp) == (0.5, 0.)
    # step 4, no human image: Lbar_h stays,
    # Lbar_p = .9997*3.9991 + .0003*2 = 3.99790027 + .0006 = 3.99850027
    out, gh, gp = step(norm, 0., 2., human=False)
    assert out.human_avg == pytest.approx(2.00119973, rel=1e-12)
    assert out.pseudo_avg == pytest.approx(3.99850027, rel=1e-12)
    assert gh == 0.
    assert out.pseudo_weight == pytest.approx(
        0.5 * 2.00119973 / 3.99850027, rel=1e-12)
    assert gp == pytest.approx(out.pseudo_weight, rel=1e-6)
    assert float(out.total.detach()) == pytest.approx(2 * gp)
    assert [
        int(norm.human_count),
        int(norm.pseudo_count),
        int(norm.num_steps)
    ] == [3, 3, 4]


def test_ratio_is_one_until_both_averages_exist():
    """a=2, d=0.5; the first batches have no human part: Lbar_h does not
    exist yet (count 0, buffer 0), so r = 1, not 0 / Lbar_p."""
    norm = LossNormalizer(pseudo_weight=2., decay=0.5)
    out, gh, gp = step(norm, 0., 5., human=False)
    assert int(norm.human_count) == 0 and out.pseudo_avg == 5.
    assert gh == 0. and gp == pytest.approx(1 / 3 * 2 * 1)
    # Lbar_p = .5*5 + .5*1 = 3, still no human average: r = 1
    out, gh, gp = step(norm, 0., 1., human=False)
    assert out.pseudo_avg == 3. and gp == pytest.approx(2 / 3)
    # the first human value starts Lbar_h = 4; Lbar_p = .5*3 + .5*1 = 2;
    # r = 4 / 2
    out, gh, gp = step(norm, 4., 1.)
    assert (out.human_avg, out.pseudo_avg) == (4., 2.)
    assert gh == pytest.approx(1 / 3)
    assert gp == pytest.approx(1 / 3 * 2 * 2)


@pytest.mark.parametrize('value', [0.99, 0.])
def test_old_momentum_key_is_refused_naming_decay(value):
    """The key was renamed; a config that still passes it must not run with
    the default silently."""
    with pytest.raises(TypeError, match=f'decay={value!r}'):
        LossNormalizer(momentum=value)
    with pytest.raises(TypeError, match='renamed decay'):
        MODELS.build(dict(type='LossNormalizer', momentum=value))


def test_pseudo_average_starts_at_its_first_valid_value():
    norm = LossNormalizer(pseudo_weight=2., decay=0.9)
    out, _, gp = step(norm, 3., 123., pseudo=False)  # no pseudo boxes yet
    assert out.human_avg == 3. and int(norm.pseudo_count) == 0
    assert gp == 0.
    out, gh, gp = step(norm, 1., 6.)
    # Lbar_h = .9*3+.1*1 = 2.8; Lbar_p = 6 (its first value, no zero start)
    assert out.human_avg == pytest.approx(2.8) and out.pseudo_avg == 6.
    assert gh == pytest.approx(1 / 3)
    assert gp == pytest.approx(1 / 3 * 2 * 2.8 / 6)


def test_normalize_off_is_the_plain_joint_loss():
    norm = LossNormalizer(pseudo_weight=2., decay=0.5, normalize=False)
    for l_h, l_p in ((1., 4.), (3., 0.5)):
        out, gh, gp = step(norm, l_h, l_p)
        assert (gh, gp) == (1., 2.)
        assert float(out.total.detach()) == pytest.approx(l_h + 2 * l_p)
    # the averages are still tracked (logged): .5*1+.5*3, .5*4+.5*.5
    assert (out.human_avg, out.pseudo_avg) == (2., 2.25)


def test_overall_factor_off():
    norm = LossNormalizer(pseudo_weight=3., decay=0., overall_factor=False)
    out, gh, gp = step(norm, 2., 8.)
    assert (gh, gp) == (1., 3. * 2 / 8)
    # decay 0: the averages are the current batch
    out, gh, gp = step(norm, 1., 4., scale=0.5)
    assert (out.human_avg, out.pseudo_avg) == (1., 4.)
    assert gp == pytest.approx(3. * 0.25 * 0.5)  # the score scale too


def test_eval_mode_does_not_update():
    norm = LossNormalizer(decay=0.5)
    step(norm, 2., 4.)
    norm.eval()
    out, _, gp = step(norm, 100., 1.)
    assert (out.human_avg, out.pseudo_avg, gp) == (2., 4., 0.25)
    assert int(norm.num_steps) == 1


@pytest.mark.parametrize('term,bad', [('pseudo', float('nan')),
                                      ('human', float('inf'))])
def test_non_finite_loss_raises_naming_iteration_and_term(term, bad):
    norm = LossNormalizer()
    step(norm, 1., 2.)
    state = {k: v.clone() for k, v in norm.state_dict().items()}
    hub = MessageHub.get_instance('test_loss_norm_non_finite')
    hub.update_info('iter', 12)  # the runner's 0-based iteration
    losses = dict(human=1., pseudo=2.)
    losses[term] = bad
    try:
        with pytest.raises(NonFiniteLossError) as info:
            step(norm, losses['human'], losses['pseudo'])
    finally:
        hub.pop_info('iter')
    msg = str(info.value)
    assert info.value.term == term
    assert f'{term}-label loss' in msg and 'training iteration 13' in msg
    assert 'step 2' in msg and 'App. B' in msg
    for key, value in norm.state_dict().items():  # nothing updated
        assert torch.equal(value, state[key]), key


def test_non_finite_loss_of_an_empty_pseudo_part_still_raises():
    """``0 * nan`` would poison the total: no silent skip."""
    with pytest.raises(NonFiniteLossError, match='pseudo'):
        step(LossNormalizer(), 1., float('nan'), pseudo=False)


def test_buffers_in_state_dict_and_resume_continues_the_sequence():
    seq = [(2., 4.), (1., 2.), (4., 1.), (2., 5.), (3., 3.)]
    straight = LossNormalizer(decay=0.7)
    weights = [step(straight, *s)[0].pseudo_weight for s in seq]
    first = LossNormalizer(decay=0.7)
    for s in seq[:3]:
        step(first, *s)
    state = first.state_dict()
    assert set(state) == {
        'human_avg', 'pseudo_avg', 'human_count', 'pseudo_count', 'num_steps'
    }
    assert state['human_avg'].dtype == torch.float64
    resumed = LossNormalizer(decay=0.7)
    resumed.load_state_dict(state)
    resumed_weights = [step(resumed, *s)[0].pseudo_weight for s in seq[3:]]
    assert resumed_weights == pytest.approx(weights[3:], rel=1e-12)
    fresh = LossNormalizer(decay=0.7)  # the state matters
    assert step(fresh, *seq[3])[0].pseudo_weight != pytest.approx(weights[3])


@pytest.mark.parametrize('kwargs', [
    dict(decay=1.),
    dict(decay=-0.1),
    dict(decay=float('inf')),
    dict(pseudo_weight=-1.),
    dict(eps=0.),
    dict(pseudo_weight=float('nan'))
])
def test_invalid_config_names_the_key(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LossNormalizer(**kwargs)
