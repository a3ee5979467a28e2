# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""SelfTrainingDetector (Zoph et al. 2020) around real mmdet detectors at
tiny width, on real shapes images: human and pseudo samples come from a
``MultiSourceDataset`` of a ``ShapesDataset`` and a ``PseudoLabelDataset``
(a real store) through real pipelines ending in ``PackStudentInputs``."""
import copy
import json
import os.path as osp
import pickle
import re
import time

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint

from mmdet.registry import DATASETS, MODELS
from rethink_mmdet.data import SHAPES_CLASSES
from rethink_mmdet.scratch.guard import find_scratch_problems
from rethink_mmdet.scratch.norm import convert_to_scratch
from rethink_mmdet.self_training.loss_norm import NonFiniteLossError
from rethink_mmdet.self_training.sources import HUMAN, PSEUDO, SOURCE_KEY
from rethink_mmdet.self_training.store import finalize_store, write_chunk
from rethink_mmdet.self_training.student import SelfTrainingDetector
from tests.conftest import (MASK_RCNN, RETINANET, python_tool, run_tool,
                            short_run_options)

# Faster R-CNN and FCOS: plain mmdet configs (mmdet's BN) at tiny width;
# RetinaNet and Mask R-CNN: the configs/shapes/ ones (GN-all)
TINY_BACKBONE = ("backbone=dict(depth=18, base_channels=16, init_cfg=None), "
                 "neck=dict(in_channels=[16, 32, 64, 128], out_channels=32)")
FASTER_RCNN = f"""
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'
model = dict(
    {TINY_BACKBONE},
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=64, num_classes=4)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=200),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))
"""
FCOS = f"""
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
model = dict(
    {TINY_BACKBONE},
    bbox_head=dict(num_classes=4, in_channels=32, feat_channels=32,
                   stacked_convs=2))
"""
LOG_KEYS = {
    'loss', 'loss_human', 'loss_pseudo', 'loss_human_avg', 'loss_pseudo_avg',
    'human_weight', 'pseudo_weight', 'pseudo_boxes_per_image'
}
NUM_PER_SOURCE = 2


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def model_cfg(kind, tmp_path_factory):
    """The ``model`` config of a tiny mmdet detector."""
    if kind in ('retinanet', 'mask_rcnn'):
        return Config.fromfile(RETINANET if kind ==
                               'retinanet' else MASK_RCNN).model
    path = tmp_path_factory.mktemp(kind) / f'{kind}.py'
    path.write_text(FASTER_RCNN if kind == 'faster_rcnn' else FCOS)
    return Config.fromfile(str(path)).model


@pytest.fixture(scope='module')
def pseudo_store(shapes_root, tmp_path_factory):
    """A real pseudo-label store over the shapes train images: the teacher's
    boxes and masks are the ground truth, with scores 0.6, 0.7, 0.8, 0.9,
    0.6, ... (the dataset keeps those >= 0.65)."""
    with open(osp.join(shapes_root, 'annotations',
                       'instances_train.json')) as f:
        coco = json.load(f)
    records = []
    for img in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        boxes = [[x, y, x + w, y + h]
                 for x, y, w, h in (a['bbox'] for a in anns)]
        records.append(
            dict(
                path=img['file_name'],
                image_id=img['id'],
                height=img['height'],
                width=img['width'],
                boxes=np.array(boxes, np.float32).reshape(-1, 4),
                scores=0.6 + 0.1 *
                (np.arange(len(anns)) % 4).astype(np.float32),
                labels=np.array([a['category_id'] - 1 for a in anns],
                                np.int64),
                masks_rle=[a['segmentation']['counts'] for a in anns]))
    store = str(tmp_path_factory.mktemp('student_store') / 'store')
    write_chunk(store, 0, 0, records)
    finalize_store(
        store,
        dict(
            classes=list(SHAPES_CLASSES),
            score_floor=0.5,
            created_by='test_student'))
    return store


def dataset_cfg(shapes_root, store, with_mask=False):
    """MultiSourceDataset: human ShapesDataset + pseudo PseudoLabelDataset."""

    def pipeline(load):
        return [
            dict(type='LoadImageFromFile'),
            dict(type=load, with_bbox=True, with_mask=with_mask),
            dict(type='Resize', scale=(256, 256), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackStudentInputs')
        ]

    root = shapes_root.rstrip('/') + '/'
    return dict(
        type='MultiSourceDataset',
        sources=[HUMAN, PSEUDO],
        datasets=[
            dict(
                type='ShapesDataset',
                data_root=root,
                ann_file='annotations/instances_train.json',
                data_prefix=dict(img='train/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=4),
                pipeline=pipeline('LoadAnnotations')),
            dict(
                type='PseudoLabelDataset',
                store=store,
                data_root=root,
                data_prefix=dict(img='train/'),
                score_thr=0.65,
                pipeline=pipeline('LoadPseudoAnnotations'))
        ])


@pytest.fixture(scope='module')
def samples(shapes_root, pseudo_store):
    """``{with_mask: [2 human items, 2 pseudo items]}`` of packed samples,
    and under ``'scores'`` the pseudo items' scores in their data infos."""
    out = {}
    for with_mask in (False, True):
        ds = DATASETS.build(dataset_cfg(shapes_root, pseudo_store, with_mask))
        n_h = ds.source_sizes[0]
        pseudo = [n_h + i for i in range(NUM_PER_SOURCE)]
        out[with_mask] = [ds[i] for i in range(NUM_PER_SOURCE)] + \
            [ds[i] for i in pseudo]
    out['scores'] = [[
        inst['score'] for inst in ds.get_data_info(i)['instances']
    ] for i in pseudo]
    return out


def no_pseudo_boxes(items):
    """A copy whose pseudo samples keep their images but have no box."""
    items = copy.deepcopy(items)
    for item in items:
        sample = item['data_samples']
        if sample.metainfo[SOURCE_KEY] == PSEUDO:
            gt = sample.gt_instances
            sample.gt_instances = gt[torch.zeros(len(gt), dtype=torch.bool)]
    return items


def student(detector_cfg, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='SelfTrainingDetector',
            detector=copy.deepcopy(detector_cfg),
            **kwargs))
    model.init_weights()
    return model


def count_forwards(model):
    """Batch sizes of the inner detector's backbone forwards, appended on
    each; each forward also checks that no method of the detector or of
    its heads is shadowed by an instance attribute."""
    seen = []
    detector = model.detector

    def record(module, args):
        for owner in (detector, *detector.children()):
            shadowed = set(vars(owner)) & {
                'loss', 'extract_feat', 'forward', 'loss_and_predict'
            }
            assert not shadowed, (type(owner).__name__, shadowed)
        seen.append(len(args[0]))

    detector.backbone.register_forward_pre_hook(record)
    return seen


def scalar(value):
    return float(value.detach())


def test_scores_reach_the_student(samples, pseudo_store):
    """PseudoLabelDataset -> LoadPseudoAnnotations -> PackStudentInputs:
    the kept boxes' teacher scores (>= score_thr 0.65) arrive beside them."""
    items = samples[False]
    for item, want in zip(items[NUM_PER_SOURCE:], samples['scores']):
        sample = item['data_samples']
        assert sample.metainfo[SOURCE_KEY] == PSEUDO
        scores = sample.gt_instances.scores
        assert scores.dtype == torch.float32
        assert len(scores) == len(sample.gt_instances.bboxes) > 0
        assert scores.tolist() == pytest.approx(want)
        assert min(want) >= 0.65 and max(want) <= 0.9 + 1e-6
    for item in items[:NUM_PER_SOURCE]:
        assert item['data_samples'].metainfo[SOURCE_KEY] == HUMAN
        assert 'scores' not in item['data_samples'].gt_instances


@pytest.mark.parametrize('kind',
                         ['faster_rcnn', 'mask_rcnn', 'retinanet', 'fcos'])
def test_wrapper_trains_each_detector(kind, samples, tmp_path_factory):
    """Two real train steps; the second one's pseudo part has no box."""
    model = student(
        model_cfg(kind, tmp_path_factory), loss_norm=dict(decay=0.5))
    items = samples[kind == 'mask_rcnn']
    forwards = count_forwards(model)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.005))
    before = [p.detach().clone() for p in model.parameters()]

    logs = model.train_step(pseudo_collate(items), optim)
    assert model.part_forward == 'shared_features'
    assert forwards == [2 * NUM_PER_SOURCE]  # one forward, whole batch
    assert LOG_KEYS <= set(logs)
    for prefix in ('human_', 'pseudo_'):
        terms = {k: v for k, v in logs.items() if k.startswith(prefix)}
        assert any(k.startswith(prefix + 'loss_') for k in terms), terms
        total = sum(scalar(v) for k, v in terms.items() if 'loss' in k)
        assert total == pytest.approx(
            scalar(logs[f'loss_{prefix[:-1]}']), rel=1e-5)
    values = {k: scalar(v) for k, v in logs.items()}
    assert all(np.isfinite(list(values.values())))
    assert values['loss'] == pytest.approx(
        values['human_weight'] * values['loss_human'] +
        values['pseudo_weight'] * values['loss_pseudo'],
        rel=1e-5)
    # first step: the averages are this batch's losses, ratio L_h / L_p
    assert values['loss_human_avg'] == pytest.approx(values['loss_human'])
    assert values['pseudo_weight'] == pytest.approx(
        0.5 * values['loss_human'] / values['loss_pseudo'], rel=1e-5)
    boxes = [
        len(i['data_samples'].gt_instances) for i in items[NUM_PER_SOURCE:]
    ]
    assert values['pseudo_boxes_per_image'] == pytest.approx(np.mean(boxes))

    logs = model.train_step(pseudo_collate(no_pseudo_boxes(items)), optim)
    assert forwards[1:] == [2 * NUM_PER_SOURCE]
    second = {k: scalar(v) for k, v in logs.items()}
    assert all(np.isfinite(list(second.values())))
    assert second['pseudo_weight'] == 0.
    assert second['pseudo_boxes_per_image'] == 0.
    assert second['loss_pseudo_avg'] == values['loss_pseudo_avg']
    assert second['loss'] == pytest.approx(0.5 * second['loss_human'])
    norm = model.loss_norm
    assert [
        int(norm.human_count),
        int(norm.pseudo_count),
        int(norm.num_steps)
    ] == [2, 1, 2]
    assert any(not torch.equal(a, b.detach())
               for a, b in zip(before, model.parameters()))


def gn_model_cfg(kind, tmp_path_factory):
    """A tiny GN-all detector: the shapes configs as they are (rendered
    GN-all models), Faster R-CNN and FCOS converted as the renderer does
    (convert_to_scratch, 8 groups)."""
    cfg = model_cfg(kind, tmp_path_factory)
    if kind in ('retinanet', 'mask_rcnn'):
        return cfg
    return convert_to_scratch(cfg, 'GN', 8)


def part_losses_and_grads(model, items, seed=0):
    """The logged losses and every parameter's gradient of one step."""
    data = model.data_preprocessor(pseudo_collate(items), True)
    torch.manual_seed(seed)  # RPN / RoI samplers draw the same numbers
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    total.backward()
    return ({
        k: scalar(v)
        for k, v in losses.items()
    }, {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    })


@pytest.mark.parametrize('kind',
                         ['faster_rcnn', 'mask_rcnn', 'retinanet', 'fcos'])
def test_shared_features_equal_per_part_forwards(kind, samples,
                                                 tmp_path_factory):
    """GN-all detectors: one forward with shared backbone, neck and dense
    head outputs, and one forward per part, give the same losses and
    gradients (float rounding aside); the batch is interleaved (human,
    pseudo, human, ...), so the parts are not contiguous slices."""
    cfg = gn_model_cfg(kind, tmp_path_factory)
    items = samples[kind == 'mask_rcnn']
    items = [items[0], items[2], items[1], items[3]]
    results, seen, head_seen = {}, {}, {}
    for mode in ('shared_features', 'per_part'):
        model = student(cfg, part_forward=mode)
        assert model.part_forward == mode
        seen[mode] = count_forwards(model)
        # the dense head's first conv: batch sizes it computes on
        head = getattr(model.detector, 'rpn_head', None) or \
            model.detector.bbox_head
        conv = next(m for m in head.modules()
                    if isinstance(m, torch.nn.Conv2d))
        head_seen[mode] = set()
        conv.register_forward_pre_hook(
            lambda m, args, mode=mode: head_seen[mode].add(len(args[0])))
        results[mode] = part_losses_and_grads(model, items)
    assert seen == {
        'shared_features': [2 * NUM_PER_SOURCE],
        'per_part': [NUM_PER_SOURCE, NUM_PER_SOURCE]
    }
    assert head_seen == {  # the dense head runs once on the whole batch
        'shared_features': {2 * NUM_PER_SOURCE},
        'per_part': {NUM_PER_SOURCE}
    }
    (shared, shared_grads), (per_part, per_part_grads) = results.values()
    assert set(shared) == set(per_part) and shared['loss'] > 0
    for key, value in shared.items():
        assert value == pytest.approx(per_part[key], rel=1e-4, abs=1e-6), key
    assert set(shared_grads) == set(per_part_grads)
    assert len(shared_grads) == len(list(model.parameters()))
    for name, grad in shared_grads.items():
        torch.testing.assert_close(
            grad, per_part_grads[name], rtol=1e-3, atol=1e-5, msg=name)


def test_part_forward_modes_of_other_detectors(tmp_path_factory):
    """A detector class with its own ``loss`` is not assumed to read the
    images only through ``extract_feat``: 'auto' forwards per part, an
    explicit 'shared_features' is refused."""
    from mmdet.models.detectors import RetinaNet

    class OwnLossRetinaNet(RetinaNet):

        def loss(self, batch_inputs, batch_data_samples):
            return super().loss(batch_inputs, batch_data_samples)

    cfg = copy.deepcopy(model_cfg('retinanet', tmp_path_factory))
    cfg = dict(cfg, type=OwnLossRetinaNet)
    assert student(cfg).part_forward == 'per_part'
    with pytest.raises(ValueError, match="part_forward='per_part'"):
        student(cfg, part_forward='shared_features')
    with pytest.raises(ValueError, match='not one of'):
        student(cfg, part_forward='batched')


def test_zero_box_pseudo_part_gradient_is_the_human_one(
        samples, tmp_path_factory):
    """No pseudo box: the pseudo part is forwarded (same forwards on every
    rank), adds exactly nothing to the gradient, every parameter still
    has a gradient (DDP sees no unused one)."""
    cfg = model_cfg('retinanet', tmp_path_factory)
    items = samples[False]
    mixed, human_only = student(cfg), student(cfg)
    forwards = count_forwards(mixed)
    assert mixed.part_forward == 'shared_features'
    for model, batch in ((mixed, no_pseudo_boxes(items)),
                         (human_only, items[:NUM_PER_SOURCE])):
        data = model.data_preprocessor(pseudo_collate(batch), True)
        total, _ = model.parse_losses(model(**data, mode='loss'))
        total.backward()
    assert forwards == [2 * NUM_PER_SOURCE]
    assert int(mixed.loss_norm.pseudo_count) == 0
    for (name, a), b in zip(mixed.named_parameters(), human_only.parameters()):
        assert a.grad is not None and torch.isfinite(a.grad).all(), name
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-8)


def test_non_finite_pseudo_loss_names_iteration_and_term(
        samples, tmp_path_factory):
    """A broken pseudo box (x2 < x1, which a faulty transform could make)
    gives a NaN box loss: the step raises, naming iteration and term."""
    model = student(model_cfg('retinanet', tmp_path_factory))
    items = broken_pseudo_box(samples[False])
    hub = MessageHub.get_instance('test_student_non_finite')
    hub.update_info('iter', 6)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    try:
        with pytest.raises(NonFiniteLossError) as info:
            model.train_step(pseudo_collate(items), optim)
    finally:
        hub.pop_info('iter')
    msg = str(info.value)
    assert info.value.term == 'pseudo'
    assert 'training iteration 7' in msg
    assert re.search(r'pseudo_loss_bbox=nan', msg), msg
    assert int(model.loss_norm.num_steps) == 0


def broken_pseudo_box(items):
    """A copy whose last pseudo sample's first box has x2 < x1 (a faulty
    transform's output): its box loss is NaN."""
    items = copy.deepcopy(items)
    gt = items[-1]['data_samples'].gt_instances
    boxes = gt.bboxes.tensor.clone()
    boxes[0] = torch.tensor([120., 120., 60., 60.])
    gt.bboxes.tensor = boxes
    return items


def _ddp_worker(rank, world_size, init_file, out_dir, cfg, batches):
    init_default_scope('mmdet')
    torch_dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=world_size)
    model = student(cfg, loss_norm=dict(decay=0.5))
    ddp = MMDistributedDataParallel(
        module=model, broadcast_buffers=False, find_unused_parameters=False)
    optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.01))
    record = []
    for batch in batches[rank][:-1]:
        logs = ddp.train_step(pseudo_collate(batch), optim)
        record.append({k: scalar(v) for k, v in logs.items()})
    try:  # NaN on rank 1 only: both ranks raise, neither hangs
        ddp.train_step(pseudo_collate(batches[rank][-1]), optim)
        record.append('no error')
    except NonFiniteLossError as err:
        record.append(str(err))
    record.append(
        float(sum(p.detach().double().sum() for p in model.parameters())))
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(record, f)
    torch_dist.destroy_process_group()


def spawn(fn, args, nprocs=2, timeout=240):
    """``mp.spawn`` that fails (instead of hanging) after ``timeout`` s."""
    ctx = mp.spawn(fn, args=args, nprocs=nprocs, join=False)
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail(f'{fn.__name__} did not finish in {timeout} s '
                        '(a collective hangs?)')


def test_ddp_two_gloo_processes(samples, tmp_path, tmp_path_factory):
    """The student under mmengine's DDP on 2 gloo processes: rank 0's pseudo
    part has no box in step 1. The averages are the all-reduced means (the
    pseudo one over the ranks with boxes), the same on both ranks; DDP,
    with find_unused_parameters=False, neither hangs nor complains; a NaN
    on one rank stops both."""
    items = samples[False]
    rank0 = [no_pseudo_boxes(items), items, items]
    rank1 = [items[::-1], items[1:] + items[:1], broken_pseudo_box(items)]
    spawn(_ddp_worker,
          (2, str(tmp_path / 'init'), str(tmp_path),
           model_cfg('retinanet', tmp_path_factory), [rank0, rank1]))
    r0, r1 = (
        json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1))
    (a1, a2), (b1, b2) = r0[:2], r1[:2]
    # step 1: Lbar_h = mean over ranks; Lbar_p = rank 1's (rank 0: no box)
    for rec in (a1, b1):
        assert rec['loss_human_avg'] == pytest.approx(
            (a1['loss_human'] + b1['loss_human']) / 2, rel=1e-6)
        assert rec['loss_pseudo_avg'] == pytest.approx(
            b1['loss_pseudo'], rel=1e-6)
    assert a1['pseudo_weight'] == 0. and a1['pseudo_boxes_per_image'] == 0.
    assert b1['pseudo_weight'] == pytest.approx(
        0.5 * b1['loss_human_avg'] / b1['loss_pseudo_avg'], rel=1e-6)
    # step 2 (decay 0.5): both ranks update both averages
    for key in ('human', 'pseudo'):
        want = 0.5 * a1[f'loss_{key}_avg'] + 0.25 * (
            a2[f'loss_{key}'] + b2[f'loss_{key}'])
        assert a2[f'loss_{key}_avg'] == pytest.approx(want, rel=1e-6)
        assert b2[f'loss_{key}_avg'] == a2[f'loss_{key}_avg']
    assert a2['pseudo_weight'] == b2['pseudo_weight'] > 0
    for rec in (r0, r1):
        assert 'pseudo-label loss' in rec[2] and 'on 1 of 2 ranks' in rec[2]
    assert r0[3] == r1[3]  # DDP kept the replicas equal


def test_score_weighted_pseudo_loss(samples, tmp_path_factory):
    cfg = model_cfg('retinanet', tmp_path_factory)
    items = samples[False]
    weights = {}
    for weighted in (False, True):
        model = student(cfg, score_weighted=weighted)
        data = model.data_preprocessor(pseudo_collate(items), True)
        weights[weighted] = scalar(model(**data, mode='loss')['pseudo_weight'])
    scores = torch.cat([
        i['data_samples'].gt_instances.scores for i in items[NUM_PER_SOURCE:]
    ])
    assert weights[True] == pytest.approx(
        weights[False] * float(scores.mean()), rel=1e-5)
    # without scores (e.g. LoadAnnotations in the pseudo pipeline)
    broken = copy.deepcopy(items)
    del broken[-1]['data_samples'].gt_instances.scores
    model = student(cfg, score_weighted=True)
    data = model.data_preprocessor(pseudo_collate(broken), True)
    with pytest.raises(KeyError, match='LoadPseudoAnnotations'):
        model(**data, mode='loss')


def test_samples_without_source_or_unknown_source(samples, tmp_path_factory):
    model = student(model_cfg('retinanet', tmp_path_factory))
    items = copy.deepcopy(samples[False])
    items[0]['data_samples'].set_metainfo({SOURCE_KEY: 'coco_extra'})
    with pytest.raises(ValueError, match='source_terms'):
        model.split_sources([i['data_samples'] for i in items])
    model.source_terms['coco_extra'] = 'human'
    parts = model.split_sources([i['data_samples'] for i in items])
    assert parts == {'human': [0, 1], 'pseudo': [2, 3]}
    sample = items[0]['data_samples']
    sample_meta = dict(sample.metainfo)
    del sample_meta[SOURCE_KEY]
    bare = type(sample)(metainfo=sample_meta)
    with pytest.raises(KeyError, match='PackStudentInputs'):
        model.split_sources([bare])


def test_state_dict_is_the_plain_detectors(tmp_path, tmp_path_factory):
    """Both directions, through mmengine's checkpoint functions."""
    cfg = model_cfg('mask_rcnn', tmp_path_factory)
    torch.manual_seed(1)
    teacher = MODELS.build(copy.deepcopy(cfg))
    teacher.init_weights()
    model = student(cfg)
    plain_keys = list(teacher.state_dict())
    keys = list(model.state_dict())
    assert keys[:len(plain_keys)] == plain_keys  # same names, same order
    assert keys[len(plain_keys):] == [
        'loss_norm.human_avg', 'loss_norm.human_count', 'loss_norm.pseudo_avg',
        'loss_norm.pseudo_count', 'loss_norm.num_steps'
    ]
    # (b) teacher checkpoint -> student (strict: nothing missing)
    save_checkpoint({'state_dict': teacher.state_dict()},
                    str(tmp_path / 'teacher.pth'))
    load_checkpoint(model, str(tmp_path / 'teacher.pth'), strict=True)
    for (name, a), b in zip(teacher.state_dict().items(),
                            model.state_dict().values()):
        assert torch.equal(a, b), name
    assert int(model.loss_norm.pseudo_count) == 0  # fresh averages
    # (a) student checkpoint -> plain detector: only loss_norm.* unexpected
    model.loss_norm.human_avg.fill_(3.5)
    save_checkpoint({'state_dict': model.state_dict()},
                    str(tmp_path / 'student.pth'))
    plain = MODELS.build(copy.deepcopy(cfg))
    result = plain.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == []
    assert all(k.startswith('loss_norm.') for k in result.unexpected_keys)
    for (name, a), b in zip(plain.state_dict().items(),
                            model.state_dict().values()):
        assert torch.equal(a, b), name
    # and back into a student: the averages come with it
    again = student(cfg, seed=5)
    load_checkpoint(again, str(tmp_path / 'student.pth'), strict=True)
    assert float(again.loss_norm.human_avg) == 3.5


def test_start_modes(tmp_path, tmp_path_factory):
    cfg = model_cfg('faster_rcnn', tmp_path_factory)  # plain, BN
    # random init with He et al.'s scratch norm: the converted detector
    scratch = convert_to_scratch(cfg, 'GN', 8)
    model = student(scratch)
    assert type(model.detector).__name__ == 'FasterRCNN'
    assert isinstance(model.detector.backbone.norm1, torch.nn.GroupNorm)
    model.train()
    wrapper_cfg = dict(type='SelfTrainingDetector', detector=scratch)
    assert find_scratch_problems(model, model_cfg=wrapper_cfg) == []
    # ImageNet-style backbone init_cfg: a local backbone checkpoint
    torch.manual_seed(3)
    backbone = MODELS.build(copy.deepcopy(cfg.backbone))
    torch.save(backbone.state_dict(), str(tmp_path / 'backbone.pth'))
    pre = copy.deepcopy(cfg)
    pre.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'backbone.pth'))
    model = student(pre)
    for (name, a), b in zip(backbone.state_dict().items(),
                            model.detector.backbone.state_dict().values()):
        assert torch.equal(a, b), name
    problems = find_scratch_problems(
        model, model_cfg=dict(type='SelfTrainingDetector', detector=pre))
    assert any('detector.backbone' in str(p) and 'pre-trained' in str(p)
               for p in problems), problems


def test_rejects_non_detector_and_name_clash():
    with pytest.raises(TypeError, match='BaseDetector'):
        SelfTrainingDetector(detector=dict(type='ResNet', depth=18))
    with pytest.raises(ValueError, match='source_terms'):
        SelfTrainingDetector(
            detector=dict(type='ResNet', depth=18),
            source_terms={'web': 'other'})


# ----------------------------------------------------------------------
# the real Runner: tools/train.py (--resume) and tools/test.py
# ----------------------------------------------------------------------
def student_config(path, shapes_root, store):
    """A student config over the tiny RetinaNet shapes config."""
    root = shapes_root.rstrip('/') + '/'
    dataset = dict(dataset_cfg(shapes_root, store), _delete_=True)
    path.write_text(f"""_base_ = '{RETINANET}'
model = dict(_delete_=True, type='SelfTrainingDetector',
             detector={{{{_base_.model}}}}, loss_norm=dict(decay=0.5))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True), dataset={dataset!r})
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(max_iters=4, val_interval=4)
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root='{root}'))
test_evaluator = dict(ann_file='{root}annotations/instances_val.json')
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
# the resumed run continues the random augmentations exactly
runner_type = 'mmdet.LongRunRunner'
log_processor = dict(window_size=1)
randomness = dict(seed=0)
""")
    return path


def logged(work_dir, key):
    """``{iteration: value}`` of one scalar in the run's scalars.json."""
    out = {}
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if key in rec:
                out[rec['iter']] = rec[key]
    return out


def score_thr_zero(config):
    """The ``--cfg-options`` item setting the detector's test ``score_thr``
    to 0 (all top-100 boxes, so that predictions can be compared), wherever
    the config nests the detector (a ``SelfTrainingDetector`` holds it
    under ``detector``)."""
    model, key = Config.fromfile(str(config)).model, 'model'
    while 'test_cfg' not in model:
        model, key = model['detector'], key + '.detector'
    return f'{key}.test_cfg.score_thr=0.'


@pytest.fixture(scope='module')
def student_runs(shapes_root, pseudo_store, tmp_path_factory):
    """An uninterrupted 4-iteration student run, and a run resumed from
    its iteration-2 checkpoint."""
    tmp = tmp_path_factory.mktemp('student_runs')
    cfg = student_config(tmp / 'student.py', shapes_root, pseudo_store)
    straight, resumed = tmp / 'straight', tmp / 'resumed'
    run_tool(python_tool('train.py', cfg, '--work-dir', straight))
    out = run_tool(
        python_tool('train.py', cfg, '--work-dir', resumed, '--resume',
                    straight / 'iter_2.pth'))
    assert 'resumed epoch: 0, iter: 2' in out
    return cfg, straight, resumed


def test_resumed_run_keeps_the_averages_and_factors(student_runs):
    _, straight, resumed = student_runs
    final = [
        torch.load(d / 'iter_4.pth', weights_only=True)['state_dict']
        for d in (straight, resumed)
    ]
    mid = torch.load(straight / 'iter_2.pth', weights_only=True)['state_dict']
    assert int(mid['loss_norm.num_steps']) == 2
    for key in ('human_count', 'pseudo_count', 'num_steps'):
        assert int(final[0][f'loss_norm.{key}']) == int(
            final[1][f'loss_norm.{key}']) == 4
    for key in ('human_avg', 'pseudo_avg'):
        a, b = (float(f[f'loss_norm.{key}']) for f in final)
        assert a == pytest.approx(b, rel=1e-6)
        assert a != pytest.approx(float(mid[f'loss_norm.{key}']))
    weights = [logged(d, 'pseudo_weight') for d in (straight, resumed)]
    assert sorted(weights[0]) == [1, 2, 3, 4]
    assert sorted(weights[1]) == [3, 4]
    for it in (3, 4):
        assert weights[1][it] == pytest.approx(weights[0][it], rel=1e-5)
    for key in ('loss_human', 'loss_pseudo', 'loss_human_avg',
                'loss_pseudo_avg', 'human_loss_cls', 'pseudo_loss_bbox',
                'pseudo_boxes_per_image'):
        assert sorted(logged(straight, key)) == [1, 2, 3, 4], key


def test_student_checkpoint_in_plain_config_with_tools_test(
        student_runs, shapes_root, tmp_path):
    """tools/test.py: the student checkpoint in the plain RetinaNet config
    predicts exactly what the student config does."""
    cfg, straight, _ = student_runs
    ckpt = straight / 'iter_4.pth'
    plain_out = run_tool(
        python_tool('test.py', RETINANET, ckpt, '--work-dir',
                    tmp_path / 'plain', '--out', tmp_path / 'plain.pkl',
                    '--cfg-options', *short_run_options(shapes_root),
                    score_thr_zero(RETINANET)))
    student_out = run_tool(
        python_tool('test.py', cfg, ckpt, '--work-dir', tmp_path / 'student',
                    '--out', tmp_path / 'student.pkl', '--cfg-options',
                    score_thr_zero(cfg)))
    # the plain model reports the normalizer's buffers, nothing missing
    assert re.search(r'unexpected key in source state_dict: loss_norm\.',
                     plain_out)
    assert 'missing keys in source state_dict' not in plain_out
    metric = re.compile(r'coco/bbox_mAP: (-?[0-9.]+)')
    assert metric.findall(plain_out) == metric.findall(student_out) != []
    with open(tmp_path / 'plain.pkl', 'rb') as f:
        plain = pickle.load(f)
    with open(tmp_path / 'student.pkl', 'rb') as f:
        ours = pickle.load(f)
    assert len(plain) == len(ours) == 6
    for a, b in zip(plain, ours):
        assert a['img_id'] == b['img_id']
        pa, pb = a['pred_instances'], b['pred_instances']
        assert len(pa['scores']) > 0
        torch.testing.assert_close(pa['bboxes'], pb['bboxes'])
        torch.testing.assert_close(pa['scores'], pb['scores'])


@pytest.mark.parametrize('modules', [('backbone', ), ('detector.backbone', )])
def test_scratch_init_hook_finds_the_inner_detector(modules, shapes_root,
                                                    pseudo_store, tmp_path):
    """ScratchInitHook in a real Runner of a student: ``'backbone'`` is the
    inner detector's backbone (the student is unwrapped like DDP); the
    older ``'detector.backbone'`` means the same; the neck keeps its
    init."""
    from mmengine.runner import Runner

    from rethink_mmdet.scratch.init import kaiming_fan_out_std
    from rethink_mmdet.scratch.init_hook import ScratchInitHook
    cfg = Config.fromfile(
        str(
            student_config(tmp_path / 'student.py', shapes_root,
                           pseudo_store)))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'student_init_hook_{len(modules[0])}'
    cfg.visualizer.name = cfg.experiment_name
    runner = Runner.from_cfg(cfg)
    inner = runner.model.detector
    for param in inner.backbone.parameters():
        param.data.fill_(0.5)
    neck = [p.detach().clone() for p in inner.neck.parameters()]
    ScratchInitHook(modules=modules, log_stats=False).before_train(runner)
    conv = inner.backbone.layer3[0].conv1.weight
    assert float(conv.detach().std()) == pytest.approx(
        kaiming_fan_out_std(conv), rel=0.1)
    assert float(inner.backbone.layer3[0].norm1.weight.detach().mean()) == 1.
    assert all(
        torch.equal(a, b) for a, b in zip(neck, inner.neck.parameters()))
