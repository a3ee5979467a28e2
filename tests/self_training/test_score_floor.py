"""The labeler's floor reaches the teacher: every test score threshold of
the teacher above the floor is lowered to it (one-stage, two-stage and
wrapped detectors, mmdet's own configs), so the floor printed is the one
applied."""
import os.path as osp

from mmengine.config import Config

from rethink_mmdet.self_training.score_floor import lower_score_floor
from tests.conftest import REPO

MMDET_CONFIGS = osp.join(
    osp.dirname(__import__('mmdet').__file__), '.mim', 'configs')


def _model(path):
    return Config.fromfile(path).model.to_dict()


def test_one_stage_threshold_lowered():
    model = _model(
        osp.join(MMDET_CONFIGS, 'retinanet', 'retinanet_r50_fpn_1x_coco.py'))
    assert model['test_cfg']['score_thr'] == 0.05
    changes = lower_score_floor(model, 0.01)
    assert model['test_cfg']['score_thr'] == 0.01
    assert changes == ['model.test_cfg.score_thr 0.05 -> 0.01']
    # the training assigner's thresholds are not test_cfg's: untouched
    assert model['train_cfg']['assigner']['pos_iou_thr'] == 0.5


def test_two_stage_rcnn_threshold_lowered():
    model = _model(
        osp.join(MMDET_CONFIGS, 'faster_rcnn',
                 'faster-rcnn_r50_fpn_1x_coco.py'))
    lower_score_floor(model, 0.01)
    assert model['test_cfg']['rcnn']['score_thr'] == 0.01
    assert model['test_cfg']['rpn']['nms']['iou_threshold'] == 0.7


def test_a_floor_above_the_teachers_threshold_changes_nothing():
    model = _model(
        osp.join(MMDET_CONFIGS, 'retinanet', 'retinanet_r50_fpn_1x_coco.py'))
    assert lower_score_floor(model, 0.5) == []
    assert model['test_cfg']['score_thr'] == 0.05


def test_wrapped_detector():
    """A self-training student's config as teacher: the detector is under
    ``model.detector``."""
    model = _model(
        osp.join(REPO, 'configs', 'studies', 'shapes_mini_replication',
                 'retinanet_r18-scratch_fpn_gn-all_selftrain_shapes.py'))
    assert model['type'] == 'SelfTrainingDetector'
    changes = lower_score_floor(model, 0.02)
    assert model['detector']['test_cfg']['score_thr'] == 0.02
    assert changes == ['model.detector.test_cfg.score_thr 0.05 -> 0.02']
