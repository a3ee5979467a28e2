"""``use_shapes_data`` points a COCO config at the shapes dataset, heads
included: a COCO head (80 classes) predicts class indexes >= 4, on which
mmdet's ``CocoMetric.results2json`` fails with ``IndexError``."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from rethink_mmdet.data import SHAPES_CLASSES, use_shapes_data
from tests.conftest import REPO

HE_CONFIGS = osp.join(REPO, 'configs', 'rethinking-imagenet-pretraining')
# One config per head type of the grid (Faster/Mask/Cascade R-CNN) and
# mmdet's own RetinaNet (a one-stage head).
CONFIGS = [
    osp.join(HE_CONFIGS, 'faster-rcnn_r50-scratch_fpn_gn-all_2x_coco.py'),
    osp.join(HE_CONFIGS, 'mask-rcnn_r50-imagenet_fpn_gn-all_3x_coco.py'),
    glob.glob(osp.join(HE_CONFIGS, 'cascade-mask-rcnn_*.py'))[0],
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
]


def load(config, tmp_path):
    """``Config.fromfile``, also of an ``mmdet::`` config (through a child
    config: ``fromfile`` itself takes paths)."""
    if config.startswith('mmdet::'):
        child = tmp_path / 'child.py'
        child.write_text(f'_base_ = {config!r}\n')
        config = str(child)
    return Config.fromfile(config)


def _num_classes(cfg, path='model'):
    """(path, value) of every num_classes key."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'num_classes':
                yield path, value
            else:
                yield from _num_classes(value, f'{path}.{key}')
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            yield from _num_classes(value, f'{path}[{i}]')


@pytest.mark.parametrize(
    'config', CONFIGS, ids=lambda c: osp.basename(c).split('_')[0])
def test_every_head_gets_the_shapes_classes(config, shapes_root, tmp_path):
    cfg = load(config, tmp_path)
    before = dict(_num_classes(cfg.model))
    assert before and set(before.values()) == {80}
    use_shapes_data(cfg, shapes_root, num_workers=0)
    after = dict(_num_classes(cfg.model))
    assert set(after) == set(before)  # the same heads, every one set
    assert set(after.values()) == {len(SHAPES_CLASSES)}
    assert cfg.train_dataloader.dataset.metainfo == dict(
        classes=SHAPES_CLASSES)


def test_coco_retinanet_evaluates_on_shapes(shapes_root, tmp_path):
    """mmdet's RetinaNet, untrained, keeping every box (score_thr=0): its
    predictions reach CocoMetric, which evaluates them (before the fix the
    80-class head predicted labels >= 4 and results2json raised)."""
    cfg = load(CONFIGS[-1], tmp_path)
    use_shapes_data(cfg, shapes_root, num_workers=0)
    cfg.model.backbone.init_cfg = None  # nothing downloaded
    cfg.model.test_cfg.score_thr = 0.0
    cfg.model.test_cfg.max_per_img = 20
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (256, 256)
    cfg.work_dir = str(tmp_path)
    cfg.test_evaluator.outfile_prefix = str(tmp_path / 'results')
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    with open(tmp_path / 'results.bbox.json') as f:
        dets = json.load(f)
    assert len(dets) == 6 * 20  # every kept box was written
    assert {d['category_id'] for d in dets} <= {1, 2, 3, 4}
