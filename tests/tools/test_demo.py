"""The main job (tools/shapes_demo.py) end to end at a tiny size: it
generates the dataset when missing, trains, prints bbox and mask AP, and
those are the metrics of a real evaluation of the trained weights."""
import json
import re

from tests.conftest import MASK_RCNN, python_tool, run_tool, short_run_options


def test_demo_generates_data_trains_and_reports(tmp_path):
    root = tmp_path / 'shapes'
    work_dir = tmp_path / 'work'
    out = run_tool(
        python_tool('shapes_demo.py', '--data-root', root, '--work-dir',
                    work_dir, '--num-train', 8, '--num-val', 4,
                    '--num-unlabeled', 0, '--cfg-options',
                    'train_cfg.max_iters=2', 'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False',
                    'val_dataloader.num_workers=0',
                    'val_dataloader.persistent_workers=False'))
    assert (root / 'annotations' / 'instances_train.json').is_file()
    assert re.search(r'bbox AP [0-9.]+ +AP50', out)
    assert re.search(r'mask AP [0-9.]+ +AP50', out)
    metrics = json.loads((work_dir / 'metrics.json').read_text())
    coco = {k: v for k, v in metrics.items() if k.startswith('coco/')}
    assert {'coco/bbox_mAP', 'coco/segm_mAP'} <= set(coco)

    # Re-evaluate the checkpoint the demo saved at its last iteration (the
    # weights its final validation scored) with tools/test.py: the same
    # numbers, so the demo's come from a real evaluation.
    ckpt = work_dir / 'iter_2.pth'
    assert ckpt.is_file()
    test_out = run_tool(
        python_tool('test.py', MASK_RCNN, ckpt, '--work-dir',
                    tmp_path / 'test', '--cfg-options',
                    *short_run_options(str(root))))
    logged = dict(re.findall(r'(coco/\w+): (-?[0-9.]+)', test_out))
    assert logged == {k: f'{v:.4f}' for k, v in coco.items()}
    assert len(logged) == 12  # bbox and segm: AP, AP50, AP75, APs/m/l
