# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Joint training (Zoph et al. 2020, Sec. 4.4, Table 7, App. H):
JointTrainingDetector around real mmdet detectors at tiny width, on real
shapes detection images and shapes classification images packed by the
configs' own pipelines; the shapes configs train through mmengine's
Runner."""
import copy
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint, save_checkpoint
from PIL import Image

from mmdet.registry import DATASETS, MODELS
from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.data.shapes_classification import (
    SHAPES_CLS_CLASSES, make_shapes_classification)
from rethink_mmdet.self_training.joint import (CLS_TERM,
                                               JointNonFiniteLossError,
                                               JointTrainingDetector)
from rethink_mmdet.self_training.joint_hook import JOINT_STATE_KEY
from rethink_mmdet.self_training.loss_norm import NonFiniteLossError
from rethink_mmdet.self_training.sources import HUMAN, PSEUDO, SOURCE_KEY
from tests.conftest import MASK_RCNN, REPO, RETINANET
from tests.self_training import test_student as student_tests

SHAPES = osp.join(REPO, 'configs', 'shapes')
JOINT = osp.join(
    SHAPES, 'retinanet_r18-scratch_fpn_gn-all_joint-shapes-cls_shapes.py')
SELFTRAIN_JOINT = osp.join(
    SHAPES,
    'retinanet_r18-scratch_fpn_gn-all_selftrain_joint-shapes-cls_shapes.py')
IMAGENET = osp.join(REPO, 'configs', '_base_', 'datasets', 'imagenet_joint.py')
CLS = 'classification'
W = 0.5

# the student tests' real pseudo-label store over the shapes train images
pseudo_store = student_tests.pseudo_store


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def cls_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes_cls'))
    make_shapes_classification(root, num_train=8, num_val=0, img_size=32)
    return root


def joint_cfg(config, shapes_root, cls_root, store=None):
    """A shapes joint config on the test data: no workers, no validation,
    2 iterations."""
    cfg = Config.fromfile(config)
    root = shapes_root.rstrip('/') + '/'
    loader = cfg.train_dataloader
    loader.num_workers = 0
    loader.persistent_workers = False
    for name, ds in zip(loader.dataset.sources, loader.dataset.datasets):
        ds.data_root = cls_root + '/' if name == CLS else root
        if name == PSEUDO:
            ds.store = store
            ds.data_prefix = dict(img='train/')
            ds.score_thr = 0.65
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.log_processor.window_size = 1
    cfg.randomness = dict(seed=0)
    return cfg


def items(cfg, per_source=2, masks=False):
    """``per_source`` packed items of every source of ``cfg``'s dataset."""
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    if masks:
        for name, ds in zip(dataset.sources, dataset.datasets):
            for t in ds.pipeline:
                if t.type in ('LoadAnnotations', 'LoadEmptyAnnotations'):
                    t.with_mask = True
    ds = DATASETS.build(dataset)
    starts = np.cumsum([0] + ds.source_sizes[:-1])
    return [ds[int(s) + i] for s in starts for i in range(per_source)]


def build(model_cfg, seed=0, **kwargs):
    torch.manual_seed(seed)
    cfg = {**copy.deepcopy(model_cfg), **kwargs}  # keys replaced, not merged
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def scalar(value):
    return float(value.detach())


@pytest.fixture(scope='module')
def joint(shapes_root, cls_root):
    """The joint shapes config on the test data and 2 + 2 packed items."""
    cfg = joint_cfg(JOINT, shapes_root, cls_root)
    return cfg, items(cfg)


# ----------------------------------------------------------------------
# the data: a classification source inside the detection batch
# ----------------------------------------------------------------------
def test_classification_samples_carry_label_and_source(joint, cls_root):
    cfg, batch = joint
    ds = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    assert ds.sources == [HUMAN, CLS]
    assert ds.metainfo['classes'] == tuple(SHAPES_CLASSES)  # the human set's
    for item in batch[:2]:
        sample = item['data_samples']
        assert sample.metainfo[SOURCE_KEY] == HUMAN
        assert 'gt_label' not in sample and len(sample.gt_instances) > 0
    for i, item in enumerate(batch[2:]):
        sample = item['data_samples']
        assert sample.metainfo[SOURCE_KEY] == CLS
        assert sample.gt_label.dtype == torch.int64
        # label = index % num_classes
        assert sample.gt_label.tolist() == [i % len(SHAPES_CLS_CLASSES)]
        assert len(sample.gt_instances) == 0
        assert tuple(item['inputs'].shape) == (3, 256, 256)


def test_image_folder_dataset_and_imagenet_fragment(tmp_path, shapes_root):
    """ImageFolderClsDataset on an ImageNet-layout folder, through the
    fragment's 640x640 pipelines, as an exempt source beside detection."""
    rng = np.random.default_rng(0)
    for wnid in ('n02', 'n01'):
        (tmp_path / 'train' / wnid).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), np.uint8)).save(
                tmp_path / 'train' / wnid / f'{wnid}_{k}.JPEG')
    (tmp_path / 'train' / 'n01' / 'notes.txt').write_text('not an image')
    frag = Config.fromfile(IMAGENET)
    assert frag.imagenet_joint_num_classes == 1000
    datasets = {}
    for variant in ('boxes', 'masks'):
        cfg = copy.deepcopy(frag.imagenet_joint_datasets[variant])
        cfg.data_root = str(tmp_path) + '/'
        datasets[variant] = DATASETS.build(cfg)
    ds = datasets['masks']
    assert ds.metainfo['classes'] == ('n01', 'n02')
    assert [(osp.basename(ds.get_data_info(i)['img_path']),
             ds.get_data_info(i)['gt_label'])
            for i in range(len(ds))] == [('n01_0.JPEG', 0), ('n01_1.JPEG', 0),
                                         ('n02_0.JPEG', 1), ('n02_1.JPEG', 1)]
    item = ds[3]
    assert item['data_samples'].gt_label.tolist() == [1]
    assert max(item['inputs'].shape[1:]) <= 640
    assert len(item['data_samples'].gt_instances.masks) == 0
    human = dict(
        type='ShapesDataset',
        data_root=shapes_root.rstrip('/') + '/',
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=[])
    mixed = dict(
        type='MultiSourceDataset',
        sources=[HUMAN, CLS],
        datasets=[human, datasets['boxes']])
    with pytest.raises(ValueError):  # ImageNet's metainfo is not COCO's
        DATASETS.build(copy.deepcopy(mixed))
    both = DATASETS.build(dict(mixed, exempt_sources=[CLS]))
    assert both.source_sizes == [12, 4]
    assert both.metainfo['classes'] == tuple(SHAPES_CLASSES)
    assert both[12]['data_samples'].metainfo[SOURCE_KEY] == CLS
    with pytest.raises(ValueError, match='exempt_sources'):
        DATASETS.build(dict(mixed, exempt_sources=['imagenet']))
    # the mixed sampler cannot group images without sizes: it says so
    with pytest.raises(KeyError, match='aspect_ratio_grouping=False'):
        Runner.build_dataloader(
            dict(
                batch_size=2,
                num_workers=0,
                sampler=dict(type='MixedSourceSampler', seed=0),
                batch_sampler=dict(type='MixedSourceBatchSampler'),
                dataset=both))


# ----------------------------------------------------------------------
# the loss
# ----------------------------------------------------------------------
def test_total_loss_is_det_plus_w_cls_by_hand(joint):
    """L = L_det + 0.5 * L_cls, each recomputed from the plain parts: the
    plain RetinaNet's loss on the detection images, and average pooling +
    linear + cross-entropy on the classification images; gradients too."""
    cfg, batch = joint
    model = build(cfg.model)
    assert model.cls_weight == W and not model.self_training
    assert model.cls_head.fc.in_features == 128  # from the FPN's in_channels
    data = model.data_preprocessor(pseudo_collate(batch), True)
    inputs, samples = data['inputs'], data['data_samples']
    losses = model(inputs, samples, mode='loss')
    total, logs = model.parse_losses(losses)
    assert total is losses['loss']
    assert not any('pseudo' in k for k in logs), sorted(logs)

    # by hand, on a copy with the same weights
    ref = copy.deepcopy(model)
    det_total, _ = ref.detector.parse_losses(
        ref.detector.loss(inputs[:2], samples[:2]))
    feat = ref.detector.backbone(inputs[2:])[-1]
    logits = ref.cls_head.fc(feat.mean((2, 3)))
    labels = torch.cat([s.gt_label for s in samples[2:]])
    cls = F.cross_entropy(logits, labels)
    assert scalar(losses['loss_det']) == pytest.approx(
        scalar(det_total), rel=1e-5)
    assert scalar(losses['loss_cls']) == pytest.approx(scalar(cls), rel=1e-5)
    assert scalar(total) == pytest.approx(
        scalar(det_total) + W * scalar(cls), rel=1e-5)
    assert scalar(logs['cls_weight']) == W
    assert scalar(logs['cls_acc']) == pytest.approx(
        float((logits.argmax(1) == labels).float().mean()))
    total.backward()
    (det_total + W * cls).backward()
    for (name, a), b in zip(model.named_parameters(), ref.parameters()):
        assert a.grad is not None, name
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('kind', ['faster_rcnn', 'mask_rcnn', 'retinanet'])
def test_each_detector_trains(kind, joint, tmp_path_factory):
    """Two real train steps of each detector, the classification images
    in the batch (Mask R-CNN: with empty masks for its preprocessor)."""
    cfg, batch = joint
    if kind == 'mask_rcnn':
        batch = items(cfg, masks=True)
        detector = Config.fromfile(MASK_RCNN).model
    elif kind == 'retinanet':
        detector = Config.fromfile(RETINANET).model
    else:
        detector = student_tests.model_cfg(kind, tmp_path_factory)
    model = build(cfg.model, detector=detector)
    assert model.part_forward == 'shared_features'
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.005))
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(2):
        logs = model.train_step(pseudo_collate(batch), optim)
        values = {k: scalar(v) for k, v in logs.items()}
        assert all(np.isfinite(list(values.values()))), values
        assert values['loss'] == pytest.approx(
            values['loss_det'] + W * values['loss_cls'], rel=1e-5)
        assert values['loss_det'] == pytest.approx(values['loss_human'])
    head = model.cls_head.fc.weight
    assert not torch.equal(head.detach(), before[-2])
    assert any(not torch.equal(a, b.detach())
               for a, b in zip(before, model.detector.parameters()))


def test_three_sources_normalize_the_pseudo_term(shapes_root, cls_root,
                                                 pseudo_store):
    """Human + pseudo + classification: L = LossNormalizer(L_h, L_p) + 0.2
    * L_cls, the averages updated by the detection part."""
    cfg = joint_cfg(SELFTRAIN_JOINT, shapes_root, cls_root, pseudo_store)
    model = build(cfg.model)
    assert model.self_training and model.cls_weight == 0.2
    assert model.loss_norm.pseudo_weight == 2.0
    batch = items(cfg)
    assert [i['data_samples'].metainfo[SOURCE_KEY]
            for i in batch] == [HUMAN, HUMAN, PSEUDO, PSEUDO, CLS, CLS]
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.005))
    logs = {
        k: scalar(v)
        for k, v in model.train_step(pseudo_collate(batch), optim).items()
    }
    a = 2.0  # first step: Lbar = this batch's losses, ratio L_h / L_p
    det = (logs['loss_human'] + a * logs['loss_human'] / logs['loss_pseudo'] *
           logs['loss_pseudo']) / (1 + a)
    assert logs['loss_det'] == pytest.approx(det, rel=1e-5)
    assert logs['loss'] == pytest.approx(
        det + 0.2 * logs['loss_cls'], rel=1e-5)
    assert logs['pseudo_weight'] > 0 and logs['pseudo_boxes_per_image'] > 0
    assert int(model.loss_norm.num_steps) == 1


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_non_finite_terms_are_named(joint):
    cfg, batch = joint
    hub = MessageHub.get_instance('test_joint_non_finite')
    hub.update_info('iter', 4)
    try:
        model = build(cfg.model)
        with torch.no_grad():
            model.cls_head.fc.bias.fill_(float('nan'))
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
        with pytest.raises(JointNonFiniteLossError) as info:
            model.train_step(pseudo_collate(batch), optim)
        assert isinstance(info.value, NonFiniteLossError)
        assert info.value.term == CLS_TERM
        msg = str(info.value)
        assert re.search(
            r'classification loss L_cls is not finite at '
            r'training iteration 5', msg), msg
        assert 'cls_weight' in msg
        # a broken human box (x2 < x1): the detection term is named
        model = build(cfg.model)
        broken = copy.deepcopy(batch)
        gt = broken[0]['data_samples'].gt_instances
        boxes = gt.bboxes.tensor.clone()
        boxes[0] = torch.tensor([120., 120., 60., 60.])
        gt.bboxes.tensor = boxes
        with pytest.raises(NonFiniteLossError) as info:
            model.train_step(pseudo_collate(broken), optim)
        assert info.value.term == HUMAN
        assert 'human_loss_bbox=nan' in str(info.value)
    finally:
        hub.pop_info('iter')


def test_batch_without_classification_source(joint):
    cfg, batch = joint
    model = build(cfg.model)
    data = model.data_preprocessor(pseudo_collate(batch[:2]), True)
    with pytest.raises(ValueError) as info:
        model(**data, mode='loss')
    msg = str(info.value)
    for part in ("model.cls_source='classification'", "['human']",
                 'MultiSourceDataset', 'MixedSourceSampler'):
        assert part in msg, msg
    other = build(cfg.model, cls_source='imagenet')  # named otherwise
    data = other.data_preprocessor(pseudo_collate(batch), True)
    with pytest.raises(ValueError, match="'classification'"):
        other(**data, mode='loss')
    data = model.data_preprocessor(pseudo_collate(batch[2:]), True)
    with pytest.raises(ValueError, match='detection images too'):
        model(**data, mode='loss')


def test_bad_config_keys(joint, tmp_path_factory):
    cfg, batch = joint
    for w in (-0.1, float('nan'), '0.5'):
        with pytest.raises(ValueError, match=r'cls_weight=.*App\. H'):
            build(cfg.model, cls_weight=w)
    with pytest.raises(ValueError, match='self_training=True'):
        build(cfg.model, loss_norm=dict(pseudo_weight=2.0))
    with pytest.raises(ValueError, match='num_classes'):
        build(cfg.model, cls_head=dict())
    with pytest.raises(ValueError, match='num_classes'):
        build(cfg.model, cls_head=dict(num_classes=0))
    with pytest.raises(ValueError, match='own'):
        build(cfg.model, source_terms={CLS: 'human'})
    # a pseudo image in a joint-only batch would lose its loss
    model = build(cfg.model)
    batch = copy.deepcopy(batch)
    batch[1]['data_samples'].set_metainfo({SOURCE_KEY: PSEUDO})
    data = model.data_preprocessor(pseudo_collate(batch), True)
    with pytest.raises(ValueError, match='self_training=True'):
        model(**data, mode='loss')
    # labels beyond the head's classes
    small = build(cfg.model, cls_head=dict(num_classes=1))  # labels 0, 1
    data = small.data_preprocessor(pseudo_collate(joint[1]), True)
    with pytest.raises(ValueError, match='num_classes'):
        small(**data, mode='loss')


# ----------------------------------------------------------------------
# checkpoints and the real Runner
# ----------------------------------------------------------------------
def test_plain_checkpoint_loads_with_fresh_head(tmp_path, joint):
    cfg, _ = joint
    model = build(cfg.model)
    plain = build(Config.fromfile(RETINANET).model, seed=3)
    save_checkpoint({'state_dict': plain.state_dict()},
                    str(tmp_path / 'plain.pth'))
    head = model.cls_head.fc.weight.detach().clone()
    load_checkpoint(model, str(tmp_path / 'plain.pth'), strict=True)
    for (name, a), b in zip(plain.state_dict().items(),
                            model.state_dict().values()):
        assert torch.equal(a, b), name
    assert torch.equal(model.cls_head.fc.weight, head)
    keys = list(model.state_dict())
    assert keys[:len(plain.state_dict())] == list(plain.state_dict())
    assert {k.split('.')[0]
            for k in keys[len(plain.state_dict()):]
            } == {'loss_norm', 'cls_head'}


@pytest.mark.parametrize(
    'config', [JOINT, SELFTRAIN_JOINT], ids=['joint', 'selftrain-joint'])
def test_runner_trains_and_checkpoint_is_the_plain_detectors(
        config, shapes_root, cls_root, pseudo_store, tmp_path):
    """2 iterations through mmengine's Runner; the checkpoint's state_dict
    loads into the plain RetinaNet (strict), the head and averages are
    under joint_state_dict and come back on resume (not on load_from)."""
    cfg = joint_cfg(config, shapes_root, cls_root, pseudo_store)
    cfg.work_dir = str(tmp_path / 'run')
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    for key in ('loss', 'loss_det', 'loss_cls', 'cls_acc', 'loss_human'):
        assert np.isfinite(scalars[f'train/{key}'].current()), key
    assert ('train/loss_pseudo' in scalars) == (config == SELFTRAIN_JOINT)
    ckpt_path = osp.join(cfg.work_dir, 'iter_2.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    own = ckpt[JOINT_STATE_KEY]
    assert {k.split('.')[0] for k in own} == {'cls_head', 'loss_norm'}
    assert not any(
        k.startswith(('cls_head.', 'loss_norm.', 'detector.'))
        for k in ckpt['state_dict'])
    plain = MODELS.build(Config.fromfile(RETINANET).model)
    load_checkpoint(plain, ckpt_path, strict=True)
    trained = runner.model.state_dict()
    for name, value in plain.state_dict().items():
        assert torch.equal(value, trained[name]), name
    steps = int(own['loss_norm.num_steps'])
    assert steps == 2

    def restart(resume):
        cfg2 = copy.deepcopy(cfg)
        cfg2.work_dir = str(tmp_path / f'again_{resume}')
        cfg2.load_from, cfg2.resume = ckpt_path, resume
        again = Runner.from_cfg(cfg2)
        again.train()  # resumed at iteration 2 of 2: nothing left to train
        return again.model

    resumed = restart(True)
    assert torch.equal(resumed.cls_head.fc.weight, own['cls_head.fc.weight'])
    assert int(resumed.loss_norm.num_steps) == steps
    loaded = restart(False)  # load_from: the detector only (2 new iters)
    assert not torch.equal(loaded.cls_head.fc.weight,
                           own['cls_head.fc.weight'])
    assert int(loaded.loss_norm.num_steps) == 2


def test_joint_is_a_student_for_the_scratch_hooks(joint):
    """ScratchInitHook finds the inner detector; the scratch guard finds
    nothing pre-trained in a from-scratch joint model."""
    from rethink_mmdet.scratch.guard import find_scratch_problems
    from rethink_mmdet.scratch.init_hook import inner_detector
    cfg, _ = joint
    model = build(cfg.model)
    assert isinstance(model, JointTrainingDetector)
    assert inner_detector(model) is model.detector
    model.train()
    assert find_scratch_problems(model, model_cfg=cfg.model) == []


# ----------------------------------------------------------------------
# a joint student starts from its plain teacher (Zoph et al. 2020, Sec.
# 3.2), and a student config started without its teacher stops
# ----------------------------------------------------------------------
def test_joint_student_starts_from_its_plain_teacher(tmp_path, shapes_root,
                                                     cls_root):
    from rethink_mmdet.self_training.student_init import (StudentInitError,
                                                          prepare_student_init)
    from rethink_mmdet.self_training.student_init_hook import \
        StudentInitCheckHook  # noqa: F401 (registers the hook)
    teacher = MODELS.build(Config.fromfile(RETINANET).model)
    ckpt = str(tmp_path / 'teacher.pth')
    save_checkpoint(teacher.state_dict(), ckpt)
    cfg = joint_cfg(JOINT, shapes_root, cls_root)
    out = prepare_student_init(cfg, ckpt, str(tmp_path / 'init.pth'),
                               'teacher')
    weights = torch.load(out, map_location='cpu')['state_dict']
    assert not any(k.startswith(('cls_head.', 'loss_norm.')) for k in weights)
    assert torch.equal(weights['backbone.conv1.weight'],
                       teacher.state_dict()['backbone.conv1.weight'])
    other = MODELS.build(Config.fromfile(MASK_RCNN).model)
    save_checkpoint(other.state_dict(), str(tmp_path / 'mask.pth'))
    with pytest.raises(StudentInitError, match='not a checkpoint of this'):
        prepare_student_init(cfg, str(tmp_path / 'mask.pth'),
                             str(tmp_path / 'bad.pth'), 'teacher')

    # a config that says 'teacher', started without a checkpoint: refused
    cfg.student_init = 'teacher'
    cfg.custom_hooks = [*cfg.custom_hooks, dict(type='StudentInitCheckHook')]
    cfg.work_dir = str(tmp_path / 'no_teacher')
    with pytest.raises(StudentInitError, match='loaded no checkpoint'):
        Runner.from_cfg(copy.deepcopy(cfg)).train()
    # the same with the teacher's weights loaded: trains, from the teacher
    cfg.update(load_from=out, resume=False, work_dir=str(tmp_path / 'ok'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
