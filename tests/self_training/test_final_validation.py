"""A round's evaluation from the training's own last validation
(:mod:`rethink_mmdet.self_training.final_validation`)."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from rethink_mmdet.self_training.final_validation import (
    final_validation_metrics, validation_is_test)
from tests.conftest import RETINANET, python_tool, run_tool, short_run_options

VAL = dict(type='CocoMetric', ann_file='val.json')


def _cfg(**test):
    data = dict(batch_size=4, dataset=dict(type='CocoDataset', ann_file='v'))
    return Config(
        dict(
            val_dataloader=data,
            test_dataloader=dict(data, **test.get('loader', {})),
            val_evaluator=VAL,
            test_evaluator=test.get('evaluator', VAL)))


def _log(work_dir, stamp, rows):
    path = work_dir / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return str(path)


def test_same_test_and_val_split_and_metric():
    assert validation_is_test(_cfg())
    # another batch size is the same evaluation
    assert validation_is_test(_cfg(loader=dict(batch_size=1)))
    assert not validation_is_test(
        _cfg(loader=dict(dataset=dict(type='CocoDataset', ann_file='t'))))
    assert not validation_is_test(
        _cfg(evaluator=dict(VAL, ann_file='test.json')))
    assert not validation_is_test(Config(dict(test_dataloader={})))


def test_the_validation_right_after_the_checkpoint_iteration(tmp_path):
    ckpt = str(tmp_path / 'iter_533.pth')
    val = {'coco/bbox_mAP': 0.25, 'data_time': 0.1, 'time': 0.2, 'step': 0}
    # The LoggerHook's last line is at 530: not this checkpoint's.
    _log(tmp_path, '20260101_000000', [{
        'iter': 530,
        'loss': 1.0
    }, val, {
        'iter': 533
    }])
    assert final_validation_metrics(_cfg(), ckpt) is None
    # A resumed run whose log has the exact line before its validation
    # (ImagesSeenHook) and one more after it (the end of training).
    path = _log(tmp_path, '20260101_010000', [{
        'iter': 533,
        'images_seen': 2132
    }, val, {
        'iter': 533
    }])
    assert final_validation_metrics(_cfg(), ckpt) == ({
        'coco/bbox_mAP': 0.25,
        'data_time': 0.1,
        'time': 0.2
    }, path)
    # another test split, an epoch checkpoint, a validation without metrics
    assert final_validation_metrics(
        _cfg(evaluator=dict(VAL, ann_file='t')), ckpt) is None
    assert final_validation_metrics(_cfg(),
                                    str(tmp_path / 'epoch_12.pth')) is None
    _log(tmp_path, '20260101_020000', [{'iter': 540}, {'time': 0.1}])
    assert final_validation_metrics(_cfg(),
                                    str(tmp_path / 'iter_540.pth')) is None


@pytest.mark.parametrize('log_interval', [1, 3])
def test_equals_tools_test_on_the_checkpoint(shapes_root, tmp_path,
                                             log_interval):
    """A real training validated at its last iteration: the metrics read
    from its log equal a tools/test.py run on its checkpoint. Logged every
    3 of 4 iterations, ImagesSeenHook's line is what marks the iteration."""
    work_dir = tmp_path / 'train'
    config = tmp_path / 'retinanet_images-seen.py'
    config.write_text(f'_base_ = {RETINANET!r}\n'
                      "custom_hooks = [dict(type='ImagesSeenHook')]\n")
    run_tool(
        python_tool('train.py', config, '--work-dir', work_dir,
                    '--cfg-options',
                    *short_run_options(shapes_root, max_iters=4),
                    f'default_hooks.logger.interval={log_interval}',
                    'model.test_cfg.score_thr=0.0'))
    ckpt = str(work_dir / 'iter_4.pth')
    (cfg_file, ) = work_dir.glob('*/vis_data/config.py')
    reused, _ = final_validation_metrics(Config.fromfile(cfg_file), ckpt)
    run_tool(
        python_tool('test.py', str(cfg_file), ckpt, '--work-dir',
                    tmp_path / 'test'))
    (tested, ) = (tmp_path / 'test').glob('*/*.json')
    tested = json.loads(tested.read_text())
    keys = [k for k in tested if k.startswith('coco/')]
    assert keys and {
        k: reused[k]
        for k in keys
    } == {
        k: tested[k]
        for k in keys
    }
    assert osp.isfile(ckpt)
