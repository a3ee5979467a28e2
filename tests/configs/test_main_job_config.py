"""The main job's study config at its defaults (no MINI_* knob): the
numbers its header states are the ones its arms get (He et al.'s scaled
rule with a warm-up that rises, App. H's iterations and a scaled by one
factor, the scaled loss-normalization decay, 3 seeds, the data sizes)."""
import os.path as osp

import pytest
from mmengine.config import Config

from rethink_mmdet.study.validate import load_study
from tests.conftest import REPO

STUDY = osp.join(REPO, 'configs', 'studies', 'shapes_mini_replication.py')


@pytest.fixture(scope='module')
def arms():
    cfg = Config.fromfile(STUDY)
    assert load_study(STUDY).name == cfg.name  # it validates
    return {a['name']: a for a in cfg.arms}


def _options(arm):
    out = {}
    for o in arm['cfg_options']:
        out.update(o)
    return out


@pytest.mark.parametrize('arm,iters,steps',
                         [('scratch-2x', 300, [200, 267]),
                          ('scratch-4x', 600, [500, 567]),
                          ('scratch-6x', 900, [800, 867]),
                          ('pretrained-6x', 900, [800, 867]),
                          ('scratch-small', 300, [200, 267])])
def test_he_arms(arms, arm, iters, steps):
    o = _options(arms[arm])
    assert o['train_cfg']['max_iters'] == iters
    warmup, multistep = o['param_scheduler']
    assert warmup['end'] >= 2  # a LinearLR that rises (TimeScale.warmup)
    assert multistep['milestones'] == steps
    assert o['optim_wrapper.optimizer.lr'] == pytest.approx(0.03)
    assert arms[arm]['seeds'] == [0, 1, 2]
    small = arm.endswith('small')
    assert o.get('train_dataloader.dataset.indices') == (100
                                                         if small else None)


@pytest.mark.parametrize('cell,labeled,iters,a', [
    ('aug-s1', 300, (200, 100, 200), 1.0),
    ('aug-s4', 300, (533, 400, 400), 0.5),
    ('aug-s4-20p', 60, (200, 25, 400), 3.0),
])
def test_zoph_cells(arms, cell, labeled, iters, a):
    """App. H's iterations (45k = 200 here) and a of each cell."""
    for method, n in zip(('rand', 'pretrained', 'student'), iters):
        o = _options(arms[f'{method}-{cell}'])
        assert o['train_cfg']['max_iters'] == n, method
        assert o['param_scheduler'][0]['end'] == 4  # 1000 of 45k
        assert o['optim_wrapper.optimizer.lr'] == pytest.approx(0.03)
    student = arms[f'student-{cell}']
    o = _options(student)
    assert student['teacher_arm'] == f'rand-{cell}'
    assert o['model.loss_norm.pseudo_weight'] == a
    # 0.9997's horizon (3333 of 45k) as the same share: 14.8 of 200
    assert o['model.loss_norm.decay'] == pytest.approx(1 -
                                                       45000 * 0.0003 / 200)
    assert o['train_dataloader.batch_size'] == 8
    assert o['train_dataloader.dataset.datasets.0.indices'] == labeled
    assert o['train_dataloader.dataset.datasets.1.score_thr'] == 0.5
    assert _options(
        arms[f'rand-{cell}'])['train_dataloader.dataset.indices'] == labeled


def test_claims_of_the_long_arm(arms):
    """The catch-up claim is tested only once the scratch arm meets the
    convergence criterion (He et al. compare converged arms)."""
    claims = {c.name: c for c in load_study(STUDY).claims}
    assert claims['he-long-catches-up'].requires == ['scratch-converged']
    assert claims['scratch-converged'].arm == 'scratch-6x'
    assert all(not c.requires for n, c in claims.items()
               if n != 'he-long-catches-up')


def test_a_part_of_the_study(monkeypatch):
    """`make demo-he-long`: MINI_ARMS keeps those arms, the arm they start
    from, and the claims and tables about them; MINI_ITERS_PER_X sets He
    et al.'s 1x."""
    monkeypatch.setenv('MINI_ARMS', 'scratch-4x,scratch-6x,pretrained-6x')
    monkeypatch.setenv('MINI_ITERS_PER_X', '1000')
    study = load_study(STUDY)
    assert [a.name for a in study.arms
            ] == ['pretrain', 'scratch-4x', 'scratch-6x', 'pretrained-6x']
    assert [c.name for c in study.claims
            ] == ['scratch-converged', 'he-long-catches-up']
    assert [t.title.split(':')[0] for t in study.tables
            ] == ['He et al. 2019 (Table 1 layout)', 'Every arm']
    cfg = Config.fromfile(STUDY)
    six = _options({a['name']: a for a in cfg.arms}['scratch-6x'])
    assert six['train_cfg']['max_iters'] == 6000
    assert six['param_scheduler'][1]['milestones'] == [5333, 5778]
    monkeypatch.setenv('MINI_ARMS', 'student-aug-s1')
    study = load_study(STUDY)
    # a student needs its teacher arm: kept with it
    assert [a.name for a in study.arms] == ['rand-aug-s1', 'student-aug-s1']
