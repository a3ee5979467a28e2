"""`custom_imports=dict(imports=['rethink_mmdet'])` registers our components
into mmdet's registries in a fresh interpreter, for configs of any repo."""
import subprocess
import sys
import textwrap

from tests.conftest import MASK_RCNN

PROBE = textwrap.dedent('''
    import sys
    from mmengine.config import Config
    from mmdet.registry import DATASETS
    print('before', DATASETS.get('ShapesDataset'))
    cfg = Config.fromfile(sys.argv[1])
    dataset = DATASETS.build(cfg.dataset)
    print('built', type(dataset).__module__, type(dataset).__name__,
          len(dataset), dataset.metainfo['classes'])
    from mmengine.runner.checkpoint import CheckpointLoader
    loader = CheckpointLoader._get_checkpoint_loader('a.pth')
    print('loader', loader.__module__)
    if 'model' in cfg:
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        register_all_modules()
        model = MODELS.build(cfg.model)
        print('model', type(model).__name__,
              sum(p.numel() for p in model.parameters()))
''')


def probe(config_file, cwd):
    proc = subprocess.run([sys.executable, '-c', PROBE,
                           str(config_file)],
                          cwd=cwd,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_custom_imports_registers_into_mmdet(shapes_root, tmp_path):
    cfg = tmp_path / 'user_config.py'
    cfg.write_text(
        textwrap.dedent(f'''
        custom_imports = dict(imports=['rethink_mmdet'],
                              allow_failed_imports=False)
        dataset = dict(type='ShapesDataset', data_root={shapes_root!r},
                       ann_file='annotations/instances_val.json',
                       data_prefix=dict(img='val/'), pipeline=[])
    '''))
    out = probe(cfg, tmp_path)
    assert 'before None' in out  # nothing registered before the config
    assert ('built rethink_mmdet.data.shapes_dataset ShapesDataset 6 '
            "('circle', 'triangle', 'square', 'star')") in out
    assert 'loader rethink_mmdet.engine.checkpoint_safety' in out


def test_user_config_in_another_repo_inherits_ours(shapes_root, tmp_path):
    # mmengine resolves `pkg::` bases only for OpenMMLab packages, so a user
    # config inherits ours by path (the repo's or the installed .mim copy).
    cfg = tmp_path / 'my_mask_rcnn.py'
    cfg.write_text(
        textwrap.dedent(f'''
        _base_ = [{MASK_RCNN!r}]
        # our model is the plain (GN-all) detector: its keys as in mmdet
        model = dict(roi_head=dict(bbox_head=dict(num_classes=4)))
        dataset = dict(type='ShapesDataset', data_root={shapes_root!r},
                       ann_file='annotations/instances_val.json',
                       data_prefix=dict(img='val/'), pipeline=[])
    '''))
    out = probe(cfg, tmp_path)
    assert 'model MaskRCNN' in out
    assert 'built rethink_mmdet.data.shapes_dataset' in out
