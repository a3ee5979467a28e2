"""The ImageNet stand-in of the He et al. 2019 comparison: the shapes
classification generator and dataset, the backbone classifier and its
accuracy metric, and the hand-over of its backbone to the pre-trained
fine-tune detector configs (He et al. 2019, Sec. 5)."""
import collections
import filecmp
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement

import rethink_mmdet  # noqa: F401  (registers the components)
from mmdet.registry import DATASETS, METRICS, MODELS
from rethink_mmdet.data.shapes_classification import (
    SHAPES_CLS_CLASSES, make_shapes_classification)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIG = osp.join(REPO, 'configs', 'shapes',
                      'cls_r18-tiny_gn_shapes-cls.py')
PRETRAINED_CONFIGS = [
    osp.join(REPO, 'configs', 'shapes', name)
    for name in ('retinanet_r18-pretrained_fpn_gn-all_shapes.py',
                 'mask-rcnn_r18-pretrained_fpn_gn-all_shapes.py')
]
CLS_ITERS = 4


def _no_workers(cfg, splits=('train', 'val', 'test')):
    for split in splits:
        loader = cfg[f'{split}_dataloader']
        loader.num_workers = 0
        loader.persistent_workers = False


def test_generator_deterministic_and_balanced(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    for root, seed in ((a, 0), (b, 0), (c, 1)):
        make_shapes_classification(
            root, num_train=10, num_val=4, seed=seed, img_size=32)
    files = ['annotations/train.json', 'annotations/val.json'] + [
        f'{split}/{i:06d}.png' for split, n in (('train', 10), ('val', 4))
        for i in range(n)
    ]
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors
    assert not filecmp.cmp(
        osp.join(a, 'train/000000.png'),
        osp.join(c, 'train/000000.png'),
        shallow=False)
    with open(osp.join(a, 'annotations/train.json')) as f:
        ann = json.load(f)
    counts = collections.Counter(d['gt_label'] for d in ann['data_list'])
    assert sorted(counts) == list(range(len(SHAPES_CLS_CLASSES)))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert ann['metainfo']['classes'] == list(SHAPES_CLS_CLASSES)


def _build_dataset(root):
    return DATASETS.build(
        dict(
            type='ShapesClsDataset',
            data_root=root,
            ann_file='annotations/train.json',
            data_prefix=dict(img_path='train/'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackClsInputs')
            ]))


def test_dataset_reads_and_checks_labels(tmp_path):
    root = str(tmp_path)
    make_shapes_classification(root, num_train=5, num_val=0, img_size=32)
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = _build_dataset(root)
    assert len(ds) == 5 and ds.get_cat_ids(4) == [4]
    assert ds.metainfo['classes'] == SHAPES_CLS_CLASSES  # the file's
    item = ds[1]
    assert item['inputs'].shape == (3, 32, 32)
    assert item['data_samples'].gt_label.tolist() == [1]
    with open(osp.join(root, 'annotations/train.json')) as f:
        ann = json.load(f)
    ann['data_list'][0]['gt_label'] = len(SHAPES_CLS_CLASSES)
    bad = osp.join(root, 'annotations/bad.json')
    with open(bad, 'w') as f:
        json.dump(ann, f)
    with pytest.raises(ValueError, match='gt_label 10'):
        DATASETS.build(
            dict(type='ShapesClsDataset', ann_file=bad, data_root=root))


def test_topk_accuracy():
    metric = METRICS.build(dict(type='TopKAccuracy', topk=(1, 2)))
    scores = [[0.7, 0.2, 0.1, 0.0], [0.1, 0.5, 0.4, 0.0], [0.1, 0.2, 0.3, 0.4],
              [0.4, 0.3, 0.2, 0.1]]
    labels = [0, 2, 3, 3]  # top1: hit, miss, hit, miss; top2: +1
    samples = []
    for score, label in zip(scores, labels):
        s = BaseDataElement(
            pred_score=torch.tensor(score), gt_label=torch.tensor([label]))
        samples.append(s)
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == dict(top1=50.0, top2=75.0)
    with pytest.raises(ValueError, match='topk'):
        METRICS.build(dict(type='TopKAccuracy', topk=0))


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """Real pre-training through mmengine's Runner: a few iterations of the
    pre-training config on a tiny generated set. Returns (checkpoint,
    initial backbone state, final metrics)."""
    root = str(tmp_path_factory.mktemp('shapes_cls'))
    make_shapes_classification(root, num_train=16, num_val=8, img_size=32)
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.work_dir = str(tmp_path_factory.mktemp('cls_work'))
    _no_workers(cfg)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg.max_iters = CLS_ITERS
    cfg.train_cfg.val_interval = CLS_ITERS
    cfg.default_hooks.checkpoint.interval = CLS_ITERS
    cfg.default_hooks.logger.interval = 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0)]
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    init_state = {
        k: v.clone()
        for k, v in runner.model.backbone.state_dict().items()
    }
    runner.train()
    metrics = runner.val_loop.run()
    ckpt = osp.join(cfg.work_dir, f'iter_{CLS_ITERS}.pth')
    return ckpt, init_state, metrics


def test_classifier_trains(pretrained):
    ckpt, init_state, metrics = pretrained
    assert osp.isfile(ckpt)
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    assert {k.split('.')[0] for k in state} == {'backbone', 'head'}
    changed = [
        k for k, v in init_state.items()
        if not torch.equal(state[f'backbone.{k}'], v)
    ]
    assert changed, 'no backbone weight changed during pre-training'
    assert set(metrics) == {'accuracy/top1', 'accuracy/top2'}
    assert 0 <= metrics['accuracy/top1'] <= metrics['accuracy/top2'] <= 100


def test_classifier_modes():
    cfg = Config.fromfile(CLS_CONFIG)
    model = MODELS.build(cfg.model)
    model.init_weights()
    inputs = torch.randn(2, 3, 32, 32)
    assert model(inputs, mode='tensor').shape == (2, len(SHAPES_CLS_CLASSES))
    preds = model(inputs, mode='predict')
    assert all(p.pred_label.item() == p.pred_score.argmax().item()
               for p in preds)
    with pytest.raises(ValueError, match='gt_label'):
        model(inputs, [BaseDataElement(), BaseDataElement()], mode='loss')
    with pytest.raises(ValueError, match='mode'):
        model(inputs, mode='train')


@pytest.mark.parametrize('config', PRETRAINED_CONFIGS)
def test_pretrained_backbone_loads(pretrained, config):
    ckpt = pretrained[0]
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    backbone = model.backbone.state_dict()
    assert set(backbone) == {
        k[len('backbone.'):]
        for k in state if k.startswith('backbone.')
    }
    for key, value in backbone.items():
        assert torch.equal(value, state[f'backbone.{key}']), key


def test_pretrained_detector_trains(pretrained, shapes_root, tmp_path):
    cfg = Config.fromfile(PRETRAINED_CONFIGS[0])
    cfg.model.backbone.init_cfg.checkpoint = pretrained[0]
    root = shapes_root.rstrip('/') + '/'
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root
    _no_workers(cfg)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.val_cfg = cfg.test_cfg = None
    cfg.val_dataloader = cfg.test_dataloader = None
    cfg.val_evaluator = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path)
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert os.path.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def test_missing_pretraining_checkpoint_names_the_command(
        shapes_root, tmp_path):
    """The shipped pre-trained config without its pre-training checkpoint:
    refused before training with the path and the command that makes it
    (PretrainedFileHook), not mmengine's bare "can not be found" from
    inside init_weights."""
    cfg = Config.fromfile(PRETRAINED_CONFIGS[0])
    missing = 'work_dirs/cls_r18-tiny_gn_shapes-cls/missing_iter_1000.pth'
    cfg.model.backbone.init_cfg.checkpoint = missing
    root = shapes_root.rstrip('/') + '/'
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root
    _no_workers(cfg)
    cfg.val_cfg = cfg.test_cfg = None
    cfg.val_dataloader = cfg.test_dataloader = None
    cfg.val_evaluator = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FileNotFoundError) as err:
        runner.train()
    message = str(err.value)
    assert missing in message and 'backbone' in message
    assert ('python tools/train.py configs/shapes/'
            'cls_r18-tiny_gn_shapes-cls.py') in message
    assert runner.iter == 0
