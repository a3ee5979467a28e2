"""TimeScale: a paper's length-like constants in a miniature schedule
(rethink_mmdet/study/time_scale.py), checked against hand-computed
values and by stepping mmengine's real schedulers."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from rethink_mmdet.scratch.schedule import he_schedule
from rethink_mmdet.study.time_scale import TimeScale


def test_iteration_counts_scale_by_one_factor():
    he = TimeScale(paper_iters=90000, iters=150)
    # Detectron's warm-up (500 of 90k) is under one iteration: at least 1
    assert he.iters(500) == 1
    assert he.iters(60000) == 100
    assert he.iters(20000) == 33  # 33.33
    assert TimeScale(90000, 300).iters(45000) == 150
    assert TimeScale(2, 1).iters(3) == 2  # 1.5: halves up
    with pytest.raises(ValueError, match='iters'):
        TimeScale(90000, 0)


def test_ema_horizon_is_the_same_fraction_of_the_run():
    # Zoph et al. App. B: decay 0.9997, a horizon of 3333 iterations
    zoph = TimeScale(paper_iters=45000, iters=150)
    # hand-computed: 1 - 1 / (3333.3 * 150 / 45000) = 1 - 0.0003 * 300
    assert zoph.decay(0.9997) == pytest.approx(0.91)
    for paper_run in (45000, 90000, 120000):
        mini_run = zoph.iters(paper_run)
        paper_share = 1 / (1 - 0.9997) / paper_run
        mini_share = 1 / (1 - zoph.decay(0.9997)) / mini_run
        assert mini_share == pytest.approx(paper_share, rel=0.02)
    # the identity keeps the paper's decay; a horizon under 1 iteration
    # keeps only the last value
    assert TimeScale(1000, 1000).decay(0.9997) == pytest.approx(0.9997)
    assert TimeScale(100000, 1).decay(0.9997) == 0.
    with pytest.raises(ValueError, match='decay'):
        zoph.decay(1.0)


def test_warm_up_never_a_single_iteration():
    he = TimeScale(90000, 150)
    # Detectron's 500 of 90k: 0.83 iterations -> 2, the shortest warm-up
    # mmengine's LinearLR rises through
    assert he.warmup(500) == 2
    assert TimeScale(90000, 3).warmup(500) == 0  # 0.017: none
    assert TimeScale(45000, 200).warmup(1000) == 4
    with pytest.raises(ValueError, match='warmup_iters=1'):
        he_schedule(multiple=2, warmup_iters=1)


def test_he_schedule_scaled_with_its_warm_up():
    he = TimeScale(90000, 150)
    s = he.schedule_he(6, batch_size=4, base_lr=0.12, val_interval=150)
    # 6x = 540k, steps at the last 60k and 20k: 480k, 520k
    assert s['max_iters'] == 900
    assert s['milestones'] == [800, 867]
    assert s['param_scheduler'][0]['end'] == 2
    assert s['lr'] == pytest.approx(0.03)
    # stepping the real schedulers: the LR reaches 0.03 after the warm-up
    # and keeps it until the first step (a one-iteration LinearLR left it
    # at a third for the whole run)
    lrs = _lrs(s, base_lr=s['lr'])
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[1] == pytest.approx(0.03)
    assert lrs[799] == pytest.approx(0.03)
    assert lrs[800] == pytest.approx(0.003)
    assert lrs[867] == pytest.approx(0.0003)
    ref = he_schedule(
        multiple=6,
        batch_size=4,
        base_lr=0.12,
        iters_per_x=150,
        warmup_iters=2,
        val_interval=150)
    assert s == ref


def _lrs(schedule, base_lr=0.1):
    """The LR of every iteration, stepping mmengine's schedulers."""
    model = torch.nn.Linear(1, 1)
    wrapper = build_optim_wrapper(model,
                                  dict(optimizer=dict(type='SGD', lr=base_lr)))
    schedulers = [
        PARAM_SCHEDULERS.build(dict(cfg, optimizer=wrapper))
        for cfg in schedule['param_scheduler']
    ]
    lrs = []
    for _ in range(schedule['max_iters']):
        lrs.append(wrapper.get_lr()['lr'][0])
        wrapper.step()
        for s in schedulers:
            s.step()
    return lrs


def test_cosine_schedule_of_an_arm():
    zoph = TimeScale(paper_iters=45000, iters=150)
    s = zoph.schedule_cosine(120000)
    assert s['max_iters'] == 400
    assert s['train_cfg']['max_iters'] == 400
    assert s['train_cfg']['val_interval'] == 400
    lrs = _lrs(s)
    warmup = zoph.warmup(1000)  # 3.33 -> 3
    assert warmup == 3
    assert lrs[0] == pytest.approx(0.001)  # 1% of the LR (0.0032 / 0.32)
    assert lrs[warmup] == pytest.approx(0.1)
    # cosine: half the LR half-way through the decay, ~0 at the end
    mid = warmup + (400 - warmup) // 2
    assert lrs[mid] == pytest.approx(0.05, abs=0.001)
    assert lrs[-1] < 0.001
    assert all(a >= b for a, b in zip(lrs[warmup:], lrs[warmup + 1:]))


def test_cosine_schedule_with_the_segmentation_warm_up():
    # the released PASCAL configs: 500 warm-up steps from LR 0.001 of 0.08
    seg = TimeScale(paper_iters=40000, iters=1600)
    s = seg.schedule_cosine(40000, paper_warmup=500, warmup_factor=0.0125)
    assert s['max_iters'] == 1600
    lrs = _lrs(s)
    assert seg.warmup(500) == 20
    assert lrs[0] == pytest.approx(0.1 * 0.0125)
    assert lrs[20] == pytest.approx(0.1)
    assert lrs[19] < 0.1
