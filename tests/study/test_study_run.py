"""A real study end to end on the shapes data: the shipped tiny study (the
tiny RetinaNet at 4 and 8 iterations, 2 seeds each) plus a failing arm;
the report (tables equal to the logs, plots, cost), the status, and a
rerun that skips what finished and resumes a killed run from its
checkpoint. Self-training arms: test_self_train_study.py."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from rethink_mmdet.study.metrics import read_history
from tests.conftest import RETINANET
from tests.study.helpers import (TINY, final_logged, load_json, run_study_cli,
                                 scalars, shipped, short_options, write_study)
from tests.study.test_launchers import study_cli

BAD = 'bad-depth'
REF = 1.5  # a made-up "paper" number, to see it shown beside ours


@pytest.fixture(scope='module')
def study(shapes_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('study')
    cfg = {
        k: v
        for k, v in shipped(TINY, shapes_root).items() if not k.startswith('_')
    }
    cfg['arms'].append(
        dict(
            name=BAD,
            config=RETINANET,
            labels=dict(model='bad', iters='4'),
            cfg_options={
                **short_options(shapes_root), 'model.backbone.depth': 7
            }))
    cfg['references'] = {'retinanet-8it': {'coco/bbox_mAP_50': REF}}
    # the grid written out, to give the 8-iteration arm a cost counterpart
    grid = cfg['arms'].pop(0)
    cfg['arms'][:0] = [
        dict(
            name=f'retinanet-{n}it',
            config=grid['config'],
            labels=dict(grid['labels'], iters=str(n)),
            seeds=grid['seeds'],
            cfg_options=grid['cfg_options'] + [{
                'train_cfg.max_iters': n
            }]) for n in (4, 8)
    ]
    cfg['arms'][1]['counterpart'] = 'retinanet-4it'
    cfg['tables'][1]['where'] = dict(model=grid['labels']['model'])
    path = write_study(tmp / 'study.py', **cfg)
    work_dir = str(tmp / 'dir')
    rc, out = run_study_cli(path, work_dir)
    return dict(path=path, dir=work_dir, rc=rc, out=out)


def report_md(study):
    return open(osp.join(study['dir'], 'report.md')).read()


def test_failed_arm_does_not_stop_the_others(study):
    assert study['rc'] == 1, study['out'][-3000:]  # one arm failed
    runs = load_json(study['dir'], 'study.json')['runs']
    assert runs[f'{BAD}_seed0']['status'] == 'failed'
    assert runs[f'{BAD}_seed0']['error'].startswith(
        "exited with 1: KeyError: 'invalid depth 7 for resnet'")
    others = [r for k, r in runs.items() if not k.startswith(BAD)]
    assert len(others) == 4 and all(r['status'] == 'done' for r in others)
    assert (f"**{BAD}_seed0 failed**: exited with 1: KeyError: 'invalid "
            "depth 7 for resnet'") in report_md(study)


def test_table_equals_the_logs(study):
    tables = load_json(study['dir'], 'report.json')['tables']
    assert tables[0]['header'] == ['4', '8']
    assert [r['label']
            for r in tables[0]['rows']] == [['RetinaNet R18-tiny GN'], ['bad']]
    report = report_md(study)
    for cell in tables[0]['rows'][0]['cells']:
        logged = [
            100 * final_logged(
                osp.join(study['dir'], 'arms', cell['arm'], f'seed{s}'),
                'coco/bbox_mAP_50') for s in (0, 1)
        ]
        assert cell['values'] == pytest.approx(logged)
        assert cell['mean'] == pytest.approx(np.mean(logged))
        assert cell['std'] == pytest.approx(np.std(logged, ddof=1))
        text = f'{cell["mean"]:.2f} ± {cell["std"]:.2f}'
        if cell['arm'] == 'retinanet-8it':
            text += f' ({REF:.2f})'  # the paper's number beside ours
        assert text in report
    loss = tables[1]['rows'][1]['cells'][1]
    assert loss['values'] == pytest.approx([
        final_logged(
            osp.join(study['dir'], 'arms', 'retinanet-8it', f'seed{s}'),
            'loss') for s in (0, 1)
    ])


def test_plots(study):
    plots = load_json(study['dir'], 'report.json')['plots']
    # the table with a where (a comparison) also gets its Fig. 2 plot
    assert sorted(osp.basename(p) for p in plots) == [
        'All_metrics_vs_images_seen_incl_upstream.png',
        'coco_bbox_mAP_50_vs_images_seen.png', 'coco_bbox_mAP_50_vs_iter.png',
        'coco_bbox_mAP_50_vs_pixels_seen.png', 'loss.png'
    ]
    for p in plots:
        with open(p, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        assert f'(plots/{osp.basename(p)})' in report_md(study)


def test_cost(study):
    state = load_json(study['dir'], 'study.json')['runs']
    runs = {r['id']: r for r in load_json(study['dir'], 'report.json')['runs']}
    for rid, rec in state.items():
        spans = [a['end'] - a['start'] for a in rec['attempts']]
        assert runs[rid]['wall_s'] == pytest.approx(sum(spans))
        assert runs[rid]['device_hours'] == pytest.approx(sum(spans) / 3600)
    work = state['retinanet-8it_seed0']['work_dir']
    train = scalars(
        osp.join(read_history(work).dirs[-1], 'vis_data', 'scalars.json'))
    assert runs['retinanet-8it_seed0']['images_seen'] == [
        r['images_seen'] for r in train if 'images_seen' in r
    ][-1] == 32  # 8 iterations x 4 images
    assert '| retinanet-8it_seed0 | done | 1 |' in report_md(study)
    ratio, = load_json(study['dir'], 'report.json')['ratios']
    assert (ratio['arm'], ratio['counterpart']) == ('retinanet-8it',
                                                    'retinanet-4it')
    assert ratio['ratio']['images_seen'] == 2.0
    walls = {
        a: np.mean([runs[f'{a}_seed{s}']['wall_s'] for s in (0, 1)])
        for a in ('retinanet-4it', 'retinanet-8it')
    }
    assert ratio['ratio']['wall_s'] == pytest.approx(walls['retinanet-8it'] /
                                                     walls['retinanet-4it'])


def test_status(study, capsys):
    assert study_cli()(['status', study['dir']]) == 0
    out = capsys.readouterr().out
    assert '| retinanet-4it_seed0 | done | none | iter_4 of 4 |' in out
    assert f'| {BAD}_seed0 | failed |' in out
    assert '4 done, 1 failed' in out


def test_rerun_skips_finished_and_resumes_a_killed_run(study):
    """Last in this file: it changes the study directory."""
    state_file = osp.join(study['dir'], 'study.json')
    state = load_json(state_file)
    rec = state['runs']['retinanet-8it_seed1']
    # the runner was killed during iterations 5..8 of this run
    rec['status'], rec['pid'] = 'running', 2**22 + 12345
    rec['attempts'][-1]['end'] = None
    os.remove(osp.join(rec['work_dir'], 'iter_8.pth'))
    with open(osp.join(rec['work_dir'], 'last_checkpoint'), 'w') as f:
        f.write(osp.join(rec['work_dir'], 'iter_4.pth'))
    with open(state_file, 'w') as f:
        json.dump(state, f)
    rc, out = run_study_cli(study['path'], study['dir'], '--no-report')
    assert rc == 1, out[-3000:]
    for rid in ('retinanet-4it_seed0', 'retinanet-4it_seed1',
                'retinanet-8it_seed0'):
        assert f'[{rid}] done, skipped' in out
    resumed = [
        line for line in out.splitlines()
        if line.startswith('[retinanet-8it_seed1] ')
    ]
    assert resumed[0].endswith('--resume') and 'done in' in resumed[1]
    assert f'[{BAD}_seed0] FAILED' in out  # a failed run is tried again
    rec = load_json(state_file)['runs']['retinanet-8it_seed1']
    assert rec['status'] == 'done' and len(rec['attempts']) == 2
    assert rec['attempts'][0]['interrupted'] and rec['attempts'][1]['resumed']
    hist = read_history(rec['work_dir'])
    assert len(hist.dirs) == 2
    assert [r['iter'] for r in hist.train] == list(range(1, 9))
    assert [v['iter'] for v in hist.val] == [4, 8]
    assert 'resumed' in open(osp.join(rec['work_dir'], 'study_run.log')).read()
