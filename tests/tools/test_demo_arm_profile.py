"""tools/benchmark/demo_arm_profile.py: the phase split of one study arm adds
up to the process's wall time, and a tiny real arm is profiled end to end
(iterations, validations and the checkpoint counted; mmengine's own
figures read beside ours)."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = osp.join(REPO, 'tools', 'benchmark', 'demo_arm_profile.py')


@pytest.fixture(scope='module')
def profile():
    spec = importlib.util.spec_from_file_location('demo_arm_profile', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _iteration(t0, data, saved=False):
    """Timestamps of one training iteration starting at ``t0``."""
    return dict(
        t0=t0,
        data=data,
        preprocess=0.01,
        backbone=0.2,
        neck=0.05,
        head=0.1,
        model=0.5,
        t_model=t0 + 0.52,
        t_step_pre=t0 + 0.9,
        t_first=t0 + 0.95,
        t_ckpt=t0 + 0.97,
        t_last=t0 + (1.5 if saved else 0.98),
        saved=saved)


def test_iteration_split(profile):
    out = profile._iteration_split(_iteration(10.0, 0.05))
    assert out['backbone_neck'] == pytest.approx(0.25)
    assert out['head'] == pytest.approx(0.1)
    assert out['loss'] == pytest.approx(0.15)  # model - modules
    assert out['backward'] == pytest.approx(0.38)
    assert out['step'] == pytest.approx(0.05)
    assert out['checkpoint'] == pytest.approx(0.01)
    parts = sum(out[k] for k in ('preprocess', 'backbone_neck', 'head', 'loss',
                                 'backward', 'step', 'hooks', 'checkpoint'))
    assert parts == pytest.approx(out['total'])


def test_phase_split_adds_up_to_the_wall_time(profile):
    start = 100.0
    marks = dict(
        start=100.05,
        imports=104.0,
        config=104.1,
        hooks_built=104.6,
        runner_built=104.9,
        before_run=105.5,
        before_train=105.7,
        first_iter=105.8,
        after_train=111.0,
        after_run=111.0,
        exit=111.1)
    it1 = profile._iteration_split(_iteration(105.8, None))
    it2 = profile._iteration_split(_iteration(106.9, 0.12, saved=True))
    vals = [dict(total=2.0, data=0.1, forward=1.0, metric=0.8, other=0.1)]
    rec = dict(
        marks=marks, iters=[it1, it2], vals=vals, gc={'run_gen2': (1, 0.3)})
    out = profile.phase_split(rec, start, 112.5)
    assert out['interpreter'] == pytest.approx(0.05)
    assert out['imports'] == pytest.approx(3.95)
    assert out['data'] == pytest.approx(0.12)  # the 1st is in start-up
    assert out['val_metric'] == pytest.approx(0.8)
    assert out['finalize'] == pytest.approx(1.4)
    assert out['_n_iters'] == 2 and out['_n_vals'] == 1
    assert out['_n_saves'] == 1
    assert out['_save_each'] == pytest.approx(0.53)
    assert out['_gc_run_gen2_n'] == 1
    rows = [k for k, _, _ in profile.ROWS if k in out]
    assert sum(out[k] for k in rows) == pytest.approx(out['total'])
    assert out['total'] == pytest.approx(12.5)
    table = profile.format_table({'baseline': out, 'other': out})
    assert table.splitlines()[-1] == (
        '| **total wall time** | **12.50** | **100.0** | **12.50** | '
        '**100.0** | **+0.00** |')
    assert '| **start-up** | **5.80** | **46.4** |' in table
    assert '| loss: anchors, targets, assignment, losses | 0.30 |' in table


def test_variant_options(profile):
    options, env = profile.parse_variant(
        'gc.freeze train_dataloader.batch_size=8 a.b=(1,2)')
    assert options == {'train_dataloader.batch_size': 8, 'a.b': (1, 2)}
    assert env == {'DEMO_ARM_GC_FREEZE': '1'}
    assert profile.parse_variant('') == ({}, {})


def test_a_tiny_arm_end_to_end(tmp_path):
    out = tmp_path / 'profile.json'
    proc = subprocess.run([
        sys.executable, SCRIPT, '--iters-per-x', '3', '--multiple', '2',
        '--num-train', '8', '--num-val', '4', '--repeats', '1',
        '--no-startup-detail', '--pipeline-images', '2', '--work-dir',
        str(tmp_path / 'work'), '--json',
        str(out), '--variant', 'frozen', 'gc.freeze'
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '| **total wall time** |' in proc.stdout
    assert '| train | LoadImageFromFile |' in proc.stdout
    result = json.loads(out.read_text())
    for name in ('baseline', 'frozen'):
        r = result['results'][name]
        assert r['_n_iters'] == 6
        assert r['_n_vals'] == 2  # every x = 3 iterations
        assert r['_n_saves'] == 1  # at the end
        for key in ('imports', 'backbone_neck', 'head', 'loss', 'backward',
                    'val_forward', 'val_metric', 'finalize'):
            assert r[key] > 0, key
        assert abs(r['unaccounted']) < 0.05 * r['total']
        assert r['_mmengine']['time'] > 0  # mmengine's scalars.json
