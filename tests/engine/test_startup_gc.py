"""``end_of_startup``: the tools' garbage-collector settings
(:mod:`rethink_mmdet.engine.startup_gc`)."""
import gc
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_tool, short_run_options


def test_end_of_startup_freezes_and_reenables_collection():
    code = ('import gc; gc.disable(); '
            'from rethink_mmdet.engine import end_of_startup; '
            'import atexit; '
            'assert gc.get_freeze_count() == 0; '
            'end_of_startup(); '
            'print(gc.isenabled(), gc.get_freeze_count() > 1000); '
            'atexit.register(lambda: print("frozen at exit", '
            'gc.get_freeze_count() > 1000))')
    out = subprocess.run([sys.executable, '-c', code],
                         cwd=REPO,
                         capture_output=True,
                         text=True,
                         timeout=120,
                         check=True).stdout.split('\n')
    assert out[0] == 'True True'


@pytest.mark.parametrize('tool', ['train.py', 'test.py', 'pseudo_label.py'])
def test_importing_a_tool_leaves_the_collector_alone(tool):
    """Only ``python tools/X.py`` disables gc during its imports; a test or
    a script that imports the tool as a module keeps collection on."""
    assert gc.isenabled()
    spec = importlib.util.spec_from_file_location(
        f'tool_{tool[:-3]}', osp.join(REPO, 'tools', tool))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert gc.isenabled()
    assert callable(module.main)


def test_train_tool_collects_during_training(shapes_root, tmp_path):
    """``python tools/train.py`` re-enables gc before training (a Runner hook
    in the tool's process records it)."""
    (tmp_path / 'gc_probe.py').write_text(
        'import gc\n'
        'from mmengine.hooks import Hook\n'
        'from mmdet.registry import HOOKS\n\n\n'
        '@HOOKS.register_module()\n'
        'class GCProbeHook(Hook):\n'
        '    def before_train(self, runner):\n'
        '        runner.logger.info(f"gc enabled: {gc.isenabled()}, "\n'
        '                           f"frozen: {gc.get_freeze_count() > 0}")\n')
    cfg = tmp_path / 'probe.py'
    cfg.write_text(
        f"_base_ = '{REPO}/configs/shapes/"
        "retinanet_r18-scratch_fpn_gn-all_shapes.py'\n"
        "custom_imports = dict(imports=['rethink_mmdet', 'gc_probe'])\n"
        "custom_hooks = [dict(type='GCProbeHook')]\n")
    log = run_tool([
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'),
        str(cfg), '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options',
        *short_run_options(shapes_root, max_iters=1, ckpt_interval=1)
    ],
                   env=dict(PYTHONPATH=f'{tmp_path}:{REPO}'))
    assert 'gc enabled: True, frozen: True' in log
