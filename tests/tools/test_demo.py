"""The main job (tools/shapes_demo.py) end to end at a tiny size: it
generates the dataset when missing, trains and prints bbox and mask AP."""
import json
import re

from tests.conftest import python_tool, run_tool


def test_demo_generates_data_trains_and_reports(tmp_path):
    root = tmp_path / 'shapes'
    out = run_tool(
        python_tool('shapes_demo.py', '--data-root', root, '--work-dir',
                    tmp_path / 'work', '--num-train', 8, '--num-val', 4,
                    '--num-unlabeled', 0, '--cfg-options',
                    'train_cfg.max_iters=2', 'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False',
                    'val_dataloader.num_workers=0',
                    'val_dataloader.persistent_workers=False'))
    assert (root / 'annotations' / 'instances_train.json').is_file()
    assert re.search(r'bbox AP [0-9.]+ +AP50', out)
    assert re.search(r'mask AP [0-9.]+ +AP50', out)
    metrics = json.loads((tmp_path / 'work' / 'metrics.json').read_text())
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics
