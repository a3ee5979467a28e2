"""tools/train.py, tools/test.py from a checkpoint, and --resume, on the
tiny shapes Mask R-CNN (real mmengine Runner, real pycocotools evaluation,
real checkpoints on current torch with weights_only=True)."""
import re

import torch

import rethink_mmdet  # noqa: F401  (allow-lists checkpoint globals)
from tests.conftest import MASK_RCNN, python_tool, run_tool, short_run_options

METRIC_RE = re.compile(r'coco/(bbox|segm)_mAP: (-?[0-9.]+)')


def metrics_in(output):
    """``{'bbox': float, 'segm': float}`` from an mmengine log."""
    return {task: float(v) for task, v in METRIC_RE.findall(output)}


def all_metrics(output):
    """Every ``coco/<name>: <value>`` of an mmengine log, as printed."""
    return dict(re.findall(r'(coco/\w+): (-?[0-9.]+)', output))


def trained_iters(output):
    """Iteration numbers the training loop logged (``Iter(train) [i/n]``)."""
    return [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/', output)]


def test_train_writes_checkpoints_and_evaluates(mask_rcnn_run):
    work_dir, out = mask_rcnn_run
    assert trained_iters(out) == [1, 2, 3, 4]
    assert (work_dir / 'iter_2.pth').is_file()
    assert (work_dir / 'iter_4.pth').is_file()
    metrics = metrics_in(out)
    assert set(metrics) == {'bbox', 'segm'}
    # pycocotools' -1 means "no ground truth": the shapes val split has some
    assert all(0 <= v <= 1 for v in metrics.values())


def test_test_from_checkpoint(mask_rcnn_run, shapes_root, tmp_path):
    """tools/test.py re-evaluates the checkpoint the training saved at its
    last iteration, right before its final validation: the metrics equal
    the training log's, so those came from a real evaluation of these
    weights."""
    work_dir, train_out = mask_rcnn_run
    out = run_tool(
        python_tool('test.py', MASK_RCNN, work_dir / 'iter_4.pth',
                    '--work-dir', tmp_path, '--out', tmp_path / 'dets.pkl',
                    '--cfg-options', *short_run_options(shapes_root)))
    assert 'Load checkpoint from' in out
    assert set(metrics_in(out)) == {'bbox', 'segm'}
    assert all_metrics(out) == all_metrics(train_out)
    assert len(all_metrics(out)) == 2 * 6  # bbox and segm: AP, AP50, ... APl
    assert (tmp_path / 'dets.pkl').stat().st_size > 0


def test_resume_continues_from_last_checkpoint(mask_rcnn_run, shapes_root,
                                               tmp_path):
    work_dir, _ = mask_rcnn_run
    # Resume a copy from iter_2 and train to 4: the loop, the optimizer and
    # the LR schedule pick up where they stopped.
    ckpt = work_dir / 'iter_2.pth'
    out = run_tool(
        python_tool('train.py', MASK_RCNN, '--work-dir', tmp_path, '--resume',
                    ckpt, '--cfg-options', *short_run_options(shapes_root)))
    assert 'resumed epoch: 0, iter: 2' in out
    assert trained_iters(out) == [3, 4]
    resumed = torch.load(tmp_path / 'iter_4.pth', weights_only=True)
    assert resumed['meta']['iter'] == 4
    assert resumed['optimizer']['state'], 'optimizer state was not saved'

    # --resume without a path: auto-resume from the newest checkpoint of
    # the work dir (here the iter_4 just written), extended to 6 iters.
    out = run_tool(
        python_tool('train.py', MASK_RCNN, '--work-dir', tmp_path, '--resume',
                    '--cfg-options',
                    *short_run_options(shapes_root, max_iters=6)))
    assert trained_iters(out) == [5, 6]
    assert (tmp_path / 'iter_6.pth').is_file()
