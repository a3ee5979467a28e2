# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Tests of the He et al. 2019 schedule rule and its config fragments.

Expected values are the paper's arithmetic written out here as literals
(He et al. 2019, Sec. 4: Nx = N*90k iterations at batch 16, LR x0.1 at the
last 60k and 20k iterations; 1x = Detectron's 60k/80k; Detectron's warm-up,
500 iterations from 1/3; Sec. 5.2's small-data recipes), never computed by
the helper under test.
"""
import glob
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from rethink_mmdet.scratch import (SCHEDULE_CONFIG_KEYS, he_schedule,
                                   he_schedule_fragment)
from rethink_mmdet.scratch.schedule_fragments import FRAGMENTS, fragment_text

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCHEDULES = osp.join(REPO_ROOT, 'configs', '_base_', 'schedules')

# multiple -> (max_iters, first step, second step) at batch 16.
PAPER_TABLE_B16 = {
    1: (90_000, 60_000, 80_000),  # Detectron's standard 1x
    2: (180_000, 120_000, 160_000),
    3: (270_000, 210_000, 250_000),
    4: (360_000, 300_000, 340_000),
    5: (450_000, 390_000, 430_000),
    6: (540_000, 480_000, 520_000),
    7: (630_000, 570_000, 610_000),
    8: (720_000, 660_000, 700_000),
    9: (810_000, 750_000, 790_000),
    11: (990_000, 930_000, 970_000),
}
LR_AT_BATCH = {8: 0.01, 16: 0.02, 32: 0.04, 64: 0.08}
# The He et al. runs resume at the saved sampler position instead
# of loading every trained batch again (rethink_mmdet.engine.loops).
RESUMABLE_LOOP = 'ResumableIterBasedTrainLoop'


@pytest.mark.parametrize('batch_size', sorted(LR_AT_BATCH))
@pytest.mark.parametrize('multiple', sorted(PAPER_TABLE_B16))
def test_paper_arithmetic(multiple, batch_size):
    total, step1, step2 = PAPER_TABLE_B16[multiple]
    # Linear scaling: 16/B times the iterations; exact for these batches.
    assert (total * 16) % batch_size == 0
    expected = [v * 16 // batch_size for v in (total, step1, step2)]
    s = he_schedule(multiple, batch_size=batch_size)
    assert s['max_iters'] == expected[0]
    assert s['milestones'] == expected[1:]
    assert s['lr'] == pytest.approx(LR_AT_BATCH[batch_size])
    assert s['train_cfg'] == dict(
        type=RESUMABLE_LOOP,
        max_iters=expected[0],
        val_interval=90_000 * 16 // batch_size)
    assert s['param_scheduler'] == [
        dict(
            type='LinearLR',
            start_factor=1 / 3,  # Detectron's WARM_UP_FACTOR
            by_epoch=False,
            begin=0,
            end=500),
        dict(
            type='MultiStepLR',
            begin=0,
            end=expected[0],
            by_epoch=False,
            milestones=expected[1:],
            gamma=0.1)
    ]
    assert s['optim_wrapper']['optimizer'] == dict(
        type='SGD',
        lr=pytest.approx(LR_AT_BATCH[batch_size]),
        momentum=0.9,
        weight_decay=1e-4)
    assert s['optim_wrapper']['paramwise_cfg'] == dict(norm_decay_mult=0.)
    assert s['auto_scale_lr'] == dict(enable=False, base_batch_size=batch_size)
    assert s['train_cfg']['val_interval'] == 90_000 * 16 // batch_size
    # Hooks belong to runtime fragments, not to the schedule (no `_base_`
    # key collision with mmdet's default_runtime.py).
    assert 'default_hooks' not in s and 'log_processor' not in s


def test_last_60k_20k_rule_and_1x_exception():
    for multiple in range(2, 12):
        s = he_schedule(multiple)
        assert [s['max_iters'] - m
                for m in s['milestones']] == [60_000, 20_000]
    # The rule would give 30k/70k at 1x; we follow Detectron's 60k/80k.
    assert he_schedule(1)['milestones'] == [60_000, 80_000]


def test_detectron2_9x_batch_64():
    s = he_schedule(9, batch_size=64)
    assert s['max_iters'] == 202_500
    assert s['milestones'] == [187_500, 197_500]
    assert s['lr'] == pytest.approx(0.08)
    assert s['optim_wrapper']['optimizer']['lr'] == pytest.approx(0.08)


@pytest.mark.parametrize(
    'multiple, batch_size, expected',
    [
        # 3x at 24: 270k*2/3 = 180000; 210k*2/3 = 140000;
        # 250k*2/3 = 166666.67 -> 166667.
        (3, 24, (180_000, 140_000, 166_667)),
        # 9x at 48: 810k/3 = 270000; 750k/3 = 250000; 790k/3 = 263333.33.
        (9, 48, (270_000, 250_000, 263_333)),
        # 1x at 7: 1440000/7 = 205714.29; 960000/7 = 137142.86;
        # 1280000/7 = 182857.14.
        (1, 7, (205_714, 137_143, 182_857)),
        # 1x at 512: 2812.5 -> 2813 (halves round up, not to even).
        (1, 512, (2_813, 1_875, 2_500)),
    ])
def test_non_integer_scaling_rounds_to_nearest(multiple, batch_size, expected):
    s = he_schedule(multiple, batch_size=batch_size)
    assert (s['max_iters'], *s['milestones']) == expected
    assert all(
        type(v) is int for v in (s['max_iters'], *s['milestones'],
                                 s['train_cfg']['val_interval']))


def test_arguments_are_used():
    s = he_schedule(
        2,
        batch_size=32,
        base_lr=0.01,
        gamma=0.5,
        warmup_iters=1000,
        warmup_ratio=0.001,
        val_interval=5000)
    assert s['lr'] == pytest.approx(0.02)
    assert s['param_scheduler'][0]['end'] == 1000
    assert s['param_scheduler'][0]['start_factor'] == 0.001
    assert s['param_scheduler'][-1]['gamma'] == 0.5
    assert s['train_cfg']['val_interval'] == 5000
    # A length at batch 16 instead of N*90k, steps by the 60k/20k rule
    # (Sec. 5.2's 220k run), or given explicitly (its 60k run).
    s = he_schedule(iters=220_000, batch_size=32)
    assert (s['max_iters'], s['milestones']) == (110_000, [80_000, 100_000])
    s = he_schedule(iters=60_000, milestones=(40_000, 53_333))
    assert (s['max_iters'], s['milestones']) == (60_000, [40_000, 53_333])
    # No warm-up: the scheduler list holds only the step schedule.
    s = he_schedule(2, warmup_iters=0)
    assert [p['type'] for p in s['param_scheduler']] == ['MultiStepLR']


def test_returns_fresh_whole_lists():
    a, b = he_schedule(3), he_schedule(3)
    a['param_scheduler'][-1]['milestones'].append(1)
    a['milestones'].append(1)
    assert b['milestones'] == [210_000, 250_000]
    assert b['param_scheduler'][-1]['milestones'] == [210_000, 250_000]
    assert a['milestones'] is not a['param_scheduler'][-1]['milestones']


@pytest.mark.parametrize(
    'kwargs, exc, match',
    [
        (dict(multiple=0), ValueError, 'N >= 1'),
        (dict(multiple=-2), ValueError, 'N >= 1'),
        (dict(multiple=1.5), TypeError, 'multiple must be an integer'),
        (dict(multiple=True), TypeError, 'multiple must be an integer'),
        (dict(multiple=2, batch_size=0), ValueError, 'batch_size=0'),
        (dict(multiple=2, batch_size=8.0), TypeError, 'batch_size'),
        (dict(multiple=2, base_lr=0), ValueError, 'base_lr'),
        (dict(multiple=2, warmup_iters=-1), ValueError, 'warmup_iters'),
        (dict(multiple=2, warmup_ratio=0), ValueError, 'warmup_ratio'),
        (dict(multiple=2, warmup_ratio=1.5), ValueError, 'warmup_ratio'),
        (dict(multiple=2, val_interval=0), ValueError, 'val_interval'),
        (dict(multiple=2, gamma=1), ValueError, 'gamma'),
        (dict(multiple=2, gamma=0), ValueError, 'gamma'),
        (dict(multiple=2, iters_per_x=0), ValueError, 'iters_per_x'),
        (dict(multiple=2, iters_per_x=1.5), ValueError, 'iters_per_x'),
        (dict(), ValueError, 'neither'),
        (dict(multiple=2, iters=90_000), ValueError, 'both'),
        (dict(iters=90_000.0), TypeError, 'iters must be an integer'),
        (dict(multiple=2, milestones=(1, )), TypeError, 'milestones'),
        # The 60k/20k rule leaves no first step in a 60k run.
        (dict(iters=60_000), ValueError, 'not strictly increasing'),
        # Warm-up reaching the first LR step.
        (dict(multiple=2,
              warmup_iters=120_000), ValueError, 'not strictly increasing'),
        # A batch so large that the steps collapse: 1 iteration in all.
        (dict(multiple=2, batch_size=16 * 180_000,
              warmup_iters=0), ValueError, 'not strictly increasing'),
    ])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        he_schedule(**kwargs)


# stem -> (max_iters, milestones, lr, gamma, val_interval) at batch 16:
# Sec. 4 (Nx) and Sec. 5.2 (lr 0.04, decay factor 0.02; 6x, 220k, 60k).
PAPER_FRAGMENTS = {
    'he_small-data_6x': (540_000, [480_000, 520_000], 0.04, 0.02, 90_000),
    'he_small-data_220k': (220_000, [160_000, 200_000], 0.04, 0.02, 20_000),
    'he_small-data_60k': (60_000, [40_000, 53_333], 0.04, 0.02, 20_000),
    # PASCAL VOC: 18k (ImageNet, Detectron2's VOC steps) and 144k (random
    # init, the Sec. 4 rule: 144k - 60k, 144k - 20k).
    'he_voc_18k': (18_000, [12_000, 16_000], 0.02, 0.1, 6_000),
    'he_voc_144k': (144_000, [84_000, 124_000], 0.02, 0.1, 18_000),
}
for _n in range(1, 10):
    _total, *_steps = PAPER_TABLE_B16[_n]
    PAPER_FRAGMENTS[f'he_{_n}x'] = (_total, _steps, 0.02, 0.1, 90_000)


def test_every_he_fragment_is_rendered():
    """No hand-written He schedule: every he_*.py file is one of
    FRAGMENTS, and every FRAGMENTS entry has its file."""
    files = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(SCHEDULES, 'he_*.py'))
    }
    assert files == set(FRAGMENTS) == set(PAPER_FRAGMENTS)


@pytest.mark.parametrize('stem', sorted(PAPER_FRAGMENTS))
def test_fragment_equals_helper(stem):
    path = osp.join(SCHEDULES, f'{stem}.py')
    cfg = Config.fromfile(path).to_dict()
    kwargs, _ = FRAGMENTS[stem]
    expected = he_schedule(**kwargs)
    assert set(cfg) == set(SCHEDULE_CONFIG_KEYS)
    for key in SCHEDULE_CONFIG_KEYS:
        assert cfg[key] == expected[key], key
    # The file is exactly what the renderer writes, so it can be
    # regenerated (tools/he_schedule.py --write-fragments).
    with open(path, encoding='utf-8') as f:
        text = f.read()
    assert text == fragment_text(stem)
    total, steps, lr, gamma, val_interval = PAPER_FRAGMENTS[stem]
    assert cfg['train_cfg'] == dict(
        type=RESUMABLE_LOOP, max_iters=total, val_interval=val_interval)
    warmup, multistep = cfg['param_scheduler']
    # Detectron's warm-up, a documented key of every He et al. fragment.
    assert warmup == dict(
        type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=500)
    assert "WARM_UP_FACTOR" in text and 'start_factor=1 / 3' in text
    assert multistep['milestones'] == steps
    assert multistep['gamma'] == gamma
    assert cfg['optim_wrapper']['optimizer']['lr'] == lr
    assert f'milestones=[{steps[0]}, {steps[1]}]' in text
    if 'small-data' in stem:
        assert 'Sec. 5.2' in text
    elif 'voc' in stem:
        assert 'PASCAL VOC' in text and 'not in our paper notes' in text
    else:
        assert 'Sec. 4' in text


def test_every_schedule_fragment_uses_the_registered_resumable_loop():
    """The He et al. fragments and the shapes schedule (hand-written, not
    rendered) build the resumable loop, which is registered in mmdet's
    LOOPS once rethink_mmdet is imported."""
    import rethink_mmdet  # noqa: F401  (registers the loops)
    from mmdet.registry import LOOPS
    from rethink_mmdet.engine.loops import ResumableIterBasedTrainLoop
    assert LOOPS.get(RESUMABLE_LOOP) is ResumableIterBasedTrainLoop
    paths = glob.glob(osp.join(SCHEDULES, '*.py'))
    assert osp.join(SCHEDULES, 'shapes_iter.py') in paths
    for path in paths:
        assert Config.fromfile(path).train_cfg.type == RESUMABLE_LOOP, path


def test_fragment_text_of_cli_matches():
    assert he_schedule_fragment(6) == fragment_text('he_6x')


def test_fragment_inherited_by_relative_path(tmp_path):
    """A user config elsewhere inherits a fragment and overrides a key."""
    child = tmp_path / 'my_config.py'
    child.write_text(f'_base_ = [{osp.join(SCHEDULES, "he_6x.py")!r}]\n'
                     'train_cfg = dict(val_interval=10000)\n')
    cfg = Config.fromfile(str(child))
    assert cfg.train_cfg.max_iters == 540_000
    assert cfg.train_cfg.val_interval == 10_000
    assert cfg.param_scheduler[-1].milestones == [480_000, 520_000]


def test_cli():
    tool = osp.join(REPO_ROOT, 'tools', 'he_schedule.py')
    out = subprocess.run(
        [sys.executable, tool, '--multiple', '9', '--batch-size', '64'],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True).stdout
    assert "'max_iters': 202500" in out
    assert "'milestones': [187500, 197500]" in out
    bad = subprocess.run([sys.executable, tool, '--multiple', '0'],
                         cwd=REPO_ROOT,
                         capture_output=True,
                         text=True)
    assert bad.returncode == 2 and 'N >= 1' in bad.stderr


def test_scaled_down_1x():
    """iters_per_x scales every iteration count to a short 1x (the main
    job's 150 iterations): 6x = 900 with the steps at the last 2/3 x and
    2/9 x; the LR follows the real batch."""
    s = he_schedule(
        6, batch_size=4, base_lr=0.12, iters_per_x=150, warmup_iters=50)
    assert (s['max_iters'], s['milestones']) == (900, [800, 867])
    assert s['train_cfg']['val_interval'] == 150
    assert s['lr'] == pytest.approx(0.03)
    assert s == he_schedule(
        6,
        batch_size=9600,
        base_lr=0.12 * 4 / 9600,
        warmup_iters=50,
        val_interval=150) | dict(
            lr=s['lr'],
            optim_wrapper=s['optim_wrapper'],
            auto_scale_lr=s['auto_scale_lr'])
