"""The per-comparison plot of a study (rethink_mmdet.study.plots): AP
against images seen with the upstream run's images on the x axis of the
arms built on it (He et al. 2019, Fig. 2), from hand-made histories."""
import os.path as osp

from rethink_mmdet.study.metrics import IMAGES, ITER
from rethink_mmdet.study.plots import _shifted, plot_study
from rethink_mmdet.study.results import History
from tests.study.helpers import run_result
from tests.study.test_schema import BOX, arm, parse


def _run(name, seed, images, evals):
    """A finished run: evaluations ``(iteration, images seen, AP)``."""
    val = [{ITER: i, IMAGES: n, BOX: ap} for i, n, ap in evals]
    return run_result(
        name,
        seed, {BOX: evals[-1][2]},
        history=History(val=val),
        images_seen=images)


def test_upstream_images_shift_the_x_axis():
    up = [
        _run('pre', 0, 1000, [(10, 1000, 0.5)]),
        _run('pre', 1, 2000, [(10, 2000, 0.5)])
    ]
    runs = [_run('ft', 1, 40, [(5, 20, 0.1), (10, 40, 0.2)])]
    shifted = _shifted(runs, up)
    # the upstream run of the same seed: 2000 images
    assert [r[IMAGES] for r in shifted[0].history.val] == [2020., 2040.]
    assert [r[BOX] for r in shifted[0].history.val] == [0.1, 0.2]
    assert runs[0].history.val[0][IMAGES] == 20  # the input is unchanged
    assert _shifted(runs, []) is runs


def test_one_plot_per_comparison_table(tmp_path):
    study = parse(
        tmp_path,
        arms=[
            arm('pre', labels=dict(part='up')),
            arm('scratch', labels=dict(part='he', init='rand')),
            arm('ft', init_arm='pre', labels=dict(part='he', init='pre')),
        ],
        tables=[
            dict(
                title='He comparison',
                metrics=[BOX],
                rows='init',
                columns='metric',
                where=dict(part='he')),
            dict(title='Every arm', metrics=[BOX]),
        ])
    results = [
        _run('pre', 0, 1000, [(10, 1000, 0.5)]),
        _run('scratch', 0, 40, [(5, 20, 0.1), (10, 40, 0.2)]),
        _run('ft', 0, 40, [(5, 20, 0.3), (10, 40, 0.4)]),
    ]
    notes = []
    paths = plot_study(study, results, str(tmp_path / 'plots'), notes)
    names = [osp.basename(p) for p in paths]
    assert 'He_comparison_vs_images_seen_incl_upstream.png' in names
    assert not any(n.startswith('Every_arm') for n in names)
    for p in paths:
        with open(p, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
