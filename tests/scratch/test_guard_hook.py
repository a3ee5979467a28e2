"""ScratchGuardHook / ScratchInitHook (He et al. 2019) on the tiny shapes
detectors: the guard's rules on built models, the init's statistics, and
both hooks inside real mmengine runners (train, resume)."""
import argparse
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import rethink_mmdet  # noqa: F401  (registers the package, safe globals)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from rethink_mmdet.data.shapes_config import use_shapes_data
from rethink_mmdet.scratch.guard import (ScratchTrainingError,
                                         find_scratch_problems)
from rethink_mmdet.scratch.guard_hook import SCRATCH_META_KEY, ScratchGuardHook
from rethink_mmdet.scratch.init import (ScratchInitError, format_weight_stats,
                                        he_init, kaiming_fan_out_std,
                                        weight_stats)
from rethink_mmdet.scratch.init_hook import ScratchInitHook  # noqa: F401
from tests.conftest import MASK_RCNN, REPO, RETINANET, short_run_options
# the student's data: human shapes + pseudo labels of a real store
from tests.self_training.test_student import dataset_cfg

register_all_modules(init_default_scope=False)
# Enough weights for the sample std to be within a few % of the true std.
MIN_NUMEL = 1000
TOL = 0.10


def build_model(config=MASK_RCNN, backbone=None):
    """The shapes config's model (the rendered GN-all detector), with
    ``backbone`` keys then set in it: the guard sees what the converter
    would have fixed."""
    model_cfg = Config.fromfile(config).model
    for key, value in (backbone or {}).items():
        model_cfg.backbone[key] = value  # replace, do not merge
    return MODELS.build(model_cfg), model_cfg


def problems_text(problems):
    return str(ScratchTrainingError(problems))


@pytest.mark.parametrize('config', [MASK_RCNN, RETINANET])
def test_good_shapes_configs_pass(config):
    model, model_cfg = build_model(config)
    assert find_scratch_problems(model, model_cfg) == []
    # resuming (with or without an explicit checkpoint) is allowed
    assert find_scratch_problems(
        model, model_cfg, load_from='work/iter_4.pth', resume=True) == []


@pytest.mark.parametrize('backbone, module, words', [
    (dict(frozen_stages=1), 'backbone', [
        'frozen_stages=1', 'conv1/res2', 'FREEZE_AT',
        'Set model.backbone.frozen_stages=-1.'
    ]),
    (dict(frozen_stages=0), 'backbone',
     ['frozen_stages=0', ': conv1 would', 'frozen_stages=-1']),
    (dict(norm_eval=True), 'backbone',
     ['norm_eval=True', 'Set model.backbone.norm_eval=False.']),
    (dict(norm_cfg=dict(type='GN', num_groups=8, requires_grad=False)),
     'backbone', [
         'frozen affine parameters', 'backbone.gn1', 'backbone.layer4.1.gn2',
         'requires_grad=True', 'model.backbone.norm_cfg'
     ]),
    (dict(
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
     'backbone', [
         'Pretrained', 'torchvision://resnet18',
         'Set model.backbone.init_cfg=None'
     ]),
])
def test_each_bad_backbone_setting_is_named_with_its_fix(
        backbone, module, words):
    model, model_cfg = build_model(backbone=backbone)
    problems = find_scratch_problems(model, model_cfg)
    assert len(problems) == 1, problems_text(problems)
    assert problems[0].module == module
    text = str(problems[0])
    for word in words:
        assert word in text, text


def test_frozen_stages_explains_its_own_frozen_params_and_eval_norms():
    # frozen_stages=2 freezes 2 stages: reported once, not per parameter,
    # while a frozen norm outside those stages is still reported.
    model, model_cfg = build_model(backbone=dict(frozen_stages=2))
    model.backbone.layer4[0].gn1.weight.requires_grad_(False)
    problems = find_scratch_problems(model, model_cfg)
    text = problems_text(problems)
    assert len(problems) == 2, text
    assert 'conv1/res2/res3' in text
    assert 'backbone.layer4.0.gn1' in text and 'layer1.0' not in text


def test_manually_frozen_param_and_allow_frozen():
    model, model_cfg = build_model()
    model.neck.lateral_convs[0].conv.weight.requires_grad_(False)
    model.roi_head.bbox_head.fc_cls.bias.requires_grad_(False)
    problems = find_scratch_problems(model, model_cfg)
    assert [p.module for p in problems] == ['neck', 'roi_head'], problems
    assert 'neck.lateral_convs.0.conv.weight' in str(problems[0])
    assert 'allow_frozen' in str(problems[0])
    assert 'roi_head.bbox_head.fc_cls.bias' in str(problems[1])
    assert find_scratch_problems(
        model,
        model_cfg,
        allow_frozen=['neck.lateral_convs.0.*', '*.fc_cls.bias']) == []


def test_norm_left_in_eval_mode_by_train_is_found_and_flags_restored():
    model, model_cfg = build_model(
        backbone=dict(norm_cfg=dict(type='BN', requires_grad=True)))
    bn = model.backbone.layer3[1].bn1
    bn.train = lambda mode=True: bn  # a module that never leaves eval mode
    bn.training = False
    model.eval()
    problems = find_scratch_problems(model, model_cfg)
    assert len(problems) == 1 and problems[0].module == 'backbone'
    assert 'backbone.layer3.1.bn1' in str(problems[0])
    assert 'eval mode' in str(problems[0])
    # the check toggles model.train() but restores every flag
    assert not any(m.training for m in model.modules())


def test_pretrained_key_in_config_and_load_from():
    model, model_cfg = build_model()
    # weights a (timm-style) backbone would load when it is built
    model_cfg.backbone.pretrained = True
    # a config path that is no module of the built model (e.g. a wrapper's
    # nested config): judged by the built model, not reported
    model_cfg.detector = dict(
        backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint='imagenet.pth'),
            pretrained='imagenet.pth'))
    problems = find_scratch_problems(
        model, model_cfg, load_from='coco_r50.pth', resume=False)
    text = problems_text(problems)
    assert [p.module for p in problems] == ['backbone', 'load_from'], text
    assert 'model.backbone.pretrained=True' in text
    assert 'Set model.backbone.pretrained=None' in text
    assert 'imagenet.pth' not in text
    assert "load_from='coco_r50.pth'" in text and 'resume=True' in text


def test_he_init_statistics_and_scope():
    model, _ = build_model()
    model.init_weights()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(('backbone.', 'neck.')):
                p.fill_(0.5)
    prior = model.rpn_head.rpn_cls.weight.clone()
    counts = he_init(model, modules=('backbone', ))
    assert counts == dict(convs=20, norms=20, zero_init_blocks=0)
    checked = 0
    for name, m in model.backbone.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            w = m.weight
            expected = math.sqrt(2.0 / (w.shape[0] * w.shape[2] * w.shape[3]))
            assert kaiming_fan_out_std(w) == pytest.approx(expected)
            if w.numel() >= MIN_NUMEL:
                assert abs(w.std().item() / expected - 1) < TOL, name
                assert abs(w.mean().item()) < 5 * expected / math.sqrt(
                    w.numel()), name
                checked += 1
        elif isinstance(m, torch.nn.GroupNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0), name
    assert checked >= 12
    # outside `modules` nothing changes (neck keeps 0.5, heads their init)
    assert all(torch.all(p == 0.5) for p in model.neck.parameters())
    assert torch.equal(model.rpn_head.rpn_cls.weight, prior)


def test_he_init_keeps_retinanet_prior_and_zero_init_residual_option():
    model, _ = build_model(RETINANET)
    model.init_weights()
    bias = model.bbox_head.retina_cls.bias.clone()
    he_init(model, zero_init_residual=True)
    # Lin et al. 2017 prior pi=0.01: b = -log((1 - pi) / pi)
    assert torch.allclose(bias, torch.full_like(bias, -math.log(99)))
    assert torch.equal(model.bbox_head.retina_cls.bias, bias)
    for block in model.backbone.modules():
        if type(block).__name__ == 'BasicBlock':
            assert torch.all(block.norm2.weight == 0)
            assert torch.all(block.norm1.weight == 1)
    with pytest.raises(ScratchInitError, match="'roi_head'"):
        he_init(model, modules=('roi_head', ))
    with pytest.raises(ScratchInitError, match='zero_init_residual=False'):
        he_init(model, modules=('neck', ), zero_init_residual=True)


def test_weight_stats_groups():
    model, _ = build_model()
    model.init_weights()
    he_init(model, modules=('backbone', 'neck'))
    stats = {s['group']: s for s in weight_stats(model, ('backbone', 'neck'))}
    assert list(stats)[:6] == [
        'backbone.stem', 'backbone.res2', 'backbone.res3', 'backbone.res4',
        'backbone.res5', 'neck'
    ]
    assert stats['backbone.stem']['convs'] == 1
    assert stats['backbone.res3']['convs'] == 5  # 4 convs + downsample
    assert stats['neck']['he'] and not stats['rpn_head']['he']
    for key in ('backbone.res5', 'neck'):
        assert abs(stats[key]['std_ratio_median'] - 1) < TOL
        assert stats[key]['norm_weight_mean'] == 1.0
    assert stats['rpn_head']['std_ratio_max'] < 0.2  # Normal(std=0.01)
    assert 'backbone.res5' in format_weight_stats(list(stats.values()))


def runner_cfg(shapes_root, work_dir, name, **changes):
    """The shapes Mask R-CNN config (its model the rendered GN-all
    detector), so that ``changes`` can break what the converter fixed."""
    cfg = Config.fromfile(MASK_RCNN)
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    opts = short_run_options(shapes_root, max_iters=1, ckpt_interval=1)
    args = parser.parse_args(['--cfg-options', *opts])
    cfg.merge_from_dict(args.cfg_options)
    cfg.train_cfg.val_interval = 1000  # no evaluation
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name  # own logger/visualizer instances
    cfg.visualizer.name = name
    cfg.custom_hooks = [
        dict(type='ScratchGuardHook'),
        dict(type='ScratchInitHook', modules=['backbone', 'neck'])
    ]
    cfg.merge_from_dict(changes)
    return cfg


def read_log(runner):
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


def test_runner_rejects_all_problems_at_once_before_loading(
        shapes_root, tmp_path):
    cfg = runner_cfg(
        shapes_root,
        tmp_path,
        'scratch_guard_bad',
        load_from=str(tmp_path / 'does_not_exist.pth'),
        **{
            'model.backbone.frozen_stages': 1,
            'model.backbone.norm_eval': True,
            'model.roi_head.mask_head.norm_cfg.requires_grad': False,
        })
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint='torchvision://resnet18')
    runner = Runner.from_cfg(cfg)
    runner.model.neck.fpn_convs[1].conv.weight.requires_grad_(False)
    # val()/test() also call before_run: the guard leaves them alone
    ScratchGuardHook().before_run(runner)
    # train(): raised in before_run, before mmengine would fetch the
    # Pretrained weights or load the (missing) load_from file
    with pytest.raises(ScratchTrainingError) as info:
        runner.train()
    text = str(info.value)
    assert len(info.value.problems) == 6, text
    for words in ('backbone (ResNet): frozen_stages=1', 'conv1/res2',
                  'backbone (ResNet): norm_eval=True',
                  'torchvision://resnet18',
                  'roi_head: 4 norm layer(s) with frozen affine',
                  'roi_head.mask_head.convs.3.gn',
                  'neck.fpn_convs.1.conv.weight', 'load_from=',
                  'Set model.backbone.frozen_stages=-1.',
                  'Set model.backbone.norm_eval=False.',
                  'Set model.backbone.init_cfg=None', 'Set load_from=None'):
        assert words in text, f'{words!r} not in:\n{text}'


def test_runner_trains_resumes_without_reinit(shapes_root, tmp_path):
    # 1) a real one-iteration run from scratch: guard passes, init + stats
    runner = Runner.from_cfg(
        runner_cfg(shapes_root, tmp_path / 'run', 'scratch_guard_run'))
    runner.train()
    log = read_log(runner)
    assert 'ScratchGuardHook: training from scratch' in log
    assert 'He et al. 2019 init of' in log
    assert 'weight statistics after init' in log
    for group in ('backbone.stem', 'backbone.res2', 'backbone.res5', 'neck',
                  'rpn_head', 'roi_head.mask_head'):
        assert f'\n{group} ' in log, group
    ckpt = str(tmp_path / 'run' / 'iter_1.pth')
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    # the neck was re-initialized (mmdet's Xavier init gives 0.44-0.82)
    for i in range(4):
        w = state[f'neck.fpn_convs.{i}.conv.weight']
        assert abs(w.std().item() / kaiming_fan_out_std(w) - 1) < TOL

    # 2) resume that checkpoint (load_from + resume): allowed, not re-init
    runner = Runner.from_cfg(
        runner_cfg(
            shapes_root,
            tmp_path / 'resume',
            'scratch_guard_resume',
            load_from=ckpt,
            resume=True))
    runner.train()  # resumes at iteration 1 of 1: no further step
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    log = read_log(runner)
    assert 'resuming this run' in log
    assert 'nothing is re-initialized' in log
    assert 'weight statistics after init' not in log

    # 3) resume=True from a checkpoint no guarded run of this model wrote:
    # refused before anything is loaded (with resume=True mmengine resumes
    # from load_from, which would start the run from those weights).
    marker = torch.load(ckpt, weights_only=True)['meta'][SCRATCH_META_KEY]
    assert marker['model'] == 'MaskRCNN' and len(marker['fingerprint']) == 64
    for name, change, words in (
        ('pretrained.pth', lambda meta: meta.pop(SCRATCH_META_KEY),
         "no meta['scratch_guard']"),
        ('other_model.pth',
         lambda meta: meta[SCRATCH_META_KEY].update(fingerprint='0' * 64),
         'guarded run of another model'),
    ):
        saved = torch.load(ckpt, weights_only=True)
        change(saved['meta'])
        foreign = str(tmp_path / name)
        torch.save(saved, foreign)
        runner = Runner.from_cfg(
            runner_cfg(
                shapes_root,
                tmp_path / name[:-4],
                f'scratch_guard_{name[:-4]}',
                load_from=foreign,
                resume=True))
        with pytest.raises(ScratchTrainingError) as info:
            runner.train()
        text = str(info.value)
        assert [p.module for p in info.value.problems] == ['load_from'], text
        for word in (foreign, words, 'Set load_from=None'):
            assert word in text, text
        assert not osp.exists(tmp_path / name[:-4] / 'iter_1.pth')


HE_SCRATCH = osp.join(REPO, 'configs', 'rethinking-imagenet-pretraining',
                      'faster-rcnn_r50-scratch_fpn_gn-all_2x_coco.py')


def he_runner(shapes_root, work_dir, name, max_iters, **changes):
    """A Runner of the shipped He et al. scratch config (its runtime:
    ``resume = True``, the scratch guard and init, preemption, RNG and
    images-seen hooks, atomic checkpoints) on the shapes data at a small
    input size and few sampled RoIs, checkpointing every iteration, without
    validation."""
    cfg = Config.fromfile(HE_SCRATCH)
    assert cfg.resume is True  # the auto-resume that opened the bypass
    use_shapes_data(cfg, shapes_root, num_workers=0)
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.pipeline[2].scale = (224, 160)
    # 32 RoIs through the 4conv1fc box head instead of 512: the CPU cost
    train_cfg = cfg.model.train_cfg
    train_cfg.rcnn.sampler.num = 32
    train_cfg.rpn.sampler.num = 64
    cfg.train_cfg.max_iters = max_iters
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.merge_from_dict(changes)
    return Runner.from_cfg(cfg)


def test_shipped_scratch_config_refuses_foreign_load_from_and_resumes(
        shapes_root, tmp_path):
    """On the shipped config: ``--cfg-options load_from=X`` with
    its ``resume = True`` is refused unless X is a checkpoint of a guarded
    scratch run of this model, and the auto-resume of the run's own
    checkpoint continues at the next iteration."""
    work = tmp_path / 'run'
    runner = he_runner(shapes_root, work, 'he_guard_run', max_iters=1)
    runner.train()
    ckpt = work / 'iter_1.pth'
    saved = torch.load(ckpt, weights_only=True)
    assert saved['meta'][SCRATCH_META_KEY]['model'] == 'FasterRCNN'

    # A detector checkpoint from elsewhere (e.g. a COCO-trained model):
    # mmengine would resume it; the guard refuses it before loading.
    saved['meta'].pop(SCRATCH_META_KEY)
    pretrained = tmp_path / 'pretrained.pth'
    torch.save(saved, pretrained)
    runner = he_runner(
        shapes_root,
        tmp_path / 'bypass',
        'he_guard_bypass',
        max_iters=2,
        load_from=str(pretrained))
    with pytest.raises(ScratchTrainingError, match='Set load_from=None'):
        runner.train()
    assert not osp.exists(tmp_path / 'bypass' / 'iter_2.pth')

    # Restarting the same command resumes this run from work_dir.
    runner = he_runner(shapes_root, work, 'he_guard_resume', max_iters=2)
    assert runner.train_loop.__class__.__name__ == \
        'ResumableIterBasedTrainLoop'
    runner.train()
    assert f'resuming this run from {ckpt}' in read_log(runner)
    resumed = torch.load(work / 'iter_2.pth', weights_only=True)
    assert resumed['meta']['iter'] == 2
    assert resumed['meta'][SCRATCH_META_KEY] == \
        torch.load(ckpt, weights_only=True)['meta'][SCRATCH_META_KEY]


def lineage_cfg(shapes_root, work_dir, name, store=None, **changes):
    """The shipped tiny RetinaNet (GN-all from random init) guarded by
    ScratchGuardHook, one iteration, checkpointed, no validation; with
    ``store`` its self-training student (``SelfTrainingDetector`` around
    the same model config, human + pseudo batches)."""
    cfg = Config.fromfile(RETINANET)
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    opts = short_run_options(shapes_root, max_iters=1, ckpt_interval=1)
    cfg.merge_from_dict(
        parser.parse_args(['--cfg-options', *opts]).cfg_options)
    cfg.train_cfg.val_interval = 1000  # no evaluation
    if store is not None:
        cfg.model = dict(type='SelfTrainingDetector', detector=cfg.model)
        cfg.train_dataloader.batch_size = 4
        cfg.train_dataloader.sampler = dict(
            type='DefaultSampler', shuffle=True)
        cfg.train_dataloader.dataset = dataset_cfg(shapes_root, store)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = cfg.visualizer.name = name
    cfg.custom_hooks = [dict(type='ScratchGuardHook')]
    cfg.merge_from_dict(changes)
    return cfg


@pytest.fixture(scope='module')
def pseudo_store(shapes_root, tmp_path_factory):
    """A pseudo-label store over the shapes train images: their ground-truth
    boxes as the teacher's, at score 0.9."""
    import json

    import numpy as np

    from rethink_mmdet.data import SHAPES_CLASSES
    from rethink_mmdet.self_training.store import finalize_store, write_chunk
    with open(osp.join(shapes_root, 'annotations',
                       'instances_train.json')) as f:
        coco = json.load(f)
    records = []
    for img in coco['images']:
        boxes = [[x, y, x + w, y + h]
                 for x, y, w, h in (a['bbox'] for a in coco['annotations']
                                    if a['image_id'] == img['id'])]
        records.append(
            dict(
                path=img['file_name'],
                image_id=img['id'],
                height=img['height'],
                width=img['width'],
                boxes=np.array(boxes, np.float32).reshape(-1, 4),
                scores=np.full(len(boxes), 0.9, np.float32),
                labels=np.array([
                    a['category_id'] - 1
                    for a in coco['annotations'] if a['image_id'] == img['id']
                ], np.int64)))
    store = str(tmp_path_factory.mktemp('lineage_store') / 'store')
    write_chunk(store, 0, 0, records)
    finalize_store(
        store,
        dict(
            classes=list(SHAPES_CLASSES),
            score_floor=0.5,
            created_by='test_guard_hook'))
    return store


def test_a_scratch_lineage_stays_scratch(shapes_root, pseudo_store, tmp_path):
    """Zoph et al. 2020, Sec. 3.2: the student starts from its teacher's
    weights. The guard accepts ``load_from`` (no resume) of a checkpoint
    whose mark proves a from-scratch run of the same detector -- the plain
    teacher, and in round 2 the round-1 student -- and refuses anything
    else with its load_from error (real Runners)."""
    from rethink_mmdet.self_training.student_init import prepare_student_init

    def mark(path):
        return torch.load(path, weights_only=True)['meta'][SCRATCH_META_KEY]

    runner = Runner.from_cfg(
        lineage_cfg(shapes_root, tmp_path / 'teacher', 'lineage_teacher'))
    runner.train()
    teacher = str(tmp_path / 'teacher' / 'iter_1.pth')
    t_mark = mark(teacher)
    assert t_mark['model'] == t_mark['detector'] == 'RetinaNet'
    assert t_mark['fingerprint'] == t_mark['detector_fingerprint']

    # round 1: the student from its teacher, a fresh run (load, no resume)
    runner = Runner.from_cfg(
        lineage_cfg(
            shapes_root,
            tmp_path / 'round1',
            'lineage_round1',
            pseudo_store,
            load_from=teacher,
            resume=False))
    runner.train()
    log = read_log(runner)
    assert (f'starting from {teacher}, a checkpoint of a guarded '
            'from-scratch run of this RetinaNet detector') in log
    assert f'Load checkpoint from {teacher}' in log
    student = str(tmp_path / 'round1' / 'iter_1.pth')
    s_mark = mark(student)
    assert (s_mark['model'], s_mark['detector']) == ('SelfTrainingDetector',
                                                     'RetinaNet')
    assert s_mark['detector_fingerprint'] == t_mark['fingerprint'] != \
        s_mark['fingerprint']

    # round 2: the teacher is a student, through tools/self_train.py's
    # start weights (no loss_norm.*): accepted, the normalizer starts fresh
    cfg = lineage_cfg(shapes_root, tmp_path / 'round2', 'lineage_round2',
                      pseudo_store)
    init = prepare_student_init(cfg, student, str(tmp_path / 'init.pth'),
                                'teacher')
    cfg.load_from, cfg.resume = init, False
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert f'starting from {init}' in read_log(runner)
    saved = torch.load(tmp_path / 'round2' / 'iter_1.pth', weights_only=True)
    assert int(saved['state_dict']['loss_norm.num_steps']) == 1  # not 2
    assert mark(tmp_path / 'round2' / 'iter_1.pth') == s_mark

    # refused, before anything is loaded: an ImageNet-style backbone
    # checkpoint, the teacher's weights without the mark, another model's
    # mark, and the teacher with resume=True (mmengine would resume the
    # teacher's iteration and optimizer)
    plain = torch.load(teacher, weights_only=True)
    plain['meta'].pop(SCRATCH_META_KEY)
    imagenet = dict(
        state_dict={
            k[len('backbone.'):]: v
            for k, v in plain['state_dict'].items()
            if k.startswith('backbone.')
        })
    other = torch.load(teacher, weights_only=True)
    other['meta'][SCRATCH_META_KEY].update(
        fingerprint='0' * 64, detector_fingerprint='0' * 64)
    cases = (
        ('imagenet.pth', imagenet, False, "no meta['scratch_guard']"),
        ('unmarked.pth', plain, False, "no meta['scratch_guard']"),
        ('other_model.pth', other, False, 'guarded run of another model'),
        ('resumed.pth', torch.load(teacher, weights_only=True), True,
         'set resume=False'),
    )
    for name, saved, resume, words in cases:
        foreign = str(tmp_path / name)
        torch.save(saved, foreign)
        work = tmp_path / name[:-4]
        runner = Runner.from_cfg(
            lineage_cfg(
                shapes_root,
                work,
                f'lineage_{name[:-4]}',
                pseudo_store,
                load_from=foreign,
                resume=resume))
        with pytest.raises(ScratchTrainingError) as info:
            runner.train()
        text = str(info.value)
        assert [p.module for p in info.value.problems] == ['load_from'], text
        for word in (foreign, words, 'Set load_from=None',
                     'self-training student'):
            assert word in text, text
        assert not osp.exists(work / 'iter_1.pth')
