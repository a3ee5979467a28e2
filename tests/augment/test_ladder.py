"""The Aug-S1..S4 ladder (Zoph et al. 2020): the config fragments
merged into real shapes configs serve batches through a real DataLoader and
the model's data_preprocessor and train with the real Runner; the crop and
filter keep a score column in step; browse_augment.py draws the ladder.
"""
import copy
import importlib.util
import os.path as osp

import matplotlib.image as mpimg
import numpy as np
import pytest
from hypothesis import given, settings
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import rethink_mmdet  # noqa: F401  (registers the transforms)
from mmdet.registry import MODELS, TRANSFORMS
from tests.conftest import MASK_RCNN, REPO, RETINANET, python_tool, run_tool
from .conftest import assert_rows_aligned, detection_results, random_results

FRAGMENTS = osp.join(REPO, 'configs', '_base_', 'augment')
STRENGTHS = ('s1', 's2', 's3', 's4')
# augmenting step of each strength, before the flip
POLICY_STEP = dict(
    s1=None,
    s2='DetectionAutoAugment',
    s3='DetectionAutoAugment',
    s4='DetectionRandAugment')
JITTER = dict(s1=(0.8, 1.2), s2=(0.8, 1.2), s3=(0.5, 2.0), s4=(0.5, 2.0))


def fragment(strength):
    return Config.fromfile(osp.join(FRAGMENTS, f'aug-{strength}.py'))


def step(pipeline, kind):
    (found, ) = [t for t in pipeline if t['type'] == kind]
    return found


@pytest.mark.parametrize('strength', STRENGTHS)
def test_fragment_pipelines(strength):
    cfg = fragment(strength)
    base = cfg.aug_train_pipeline
    types = [t['type'] for t in base]
    policy = POLICY_STEP[strength]
    # the released order: policy on the raw image, flip, resize, crop, pad
    expected = ['LoadImageFromFile', 'LoadAnnotations'
                ] + ([policy] if policy else []) + [
                    'RandomFlip', 'RandomResize', 'RandomCropInstances',
                    'FilterInstances', 'Pad', 'PackDetInputs'
                ]
    assert types == expected
    assert step(base, 'RandomResize')['ratio_range'] == JITTER[strength]
    if strength in ('s2', 's3'):
        assert step(base, policy)['policy'] == 'v0'
    if strength == 's4':
        # Zoph et al. 2020, Sec. 3.1: magnitude 10 [V]; N = 1 [U]
        ra = step(base, policy)
        assert (ra['num_ops'], ra['magnitude']) == (1, 10)
        assert (cfg.aug_num_ops, cfg.aug_magnitude) == (1, 10)
    assert set(cfg.aug_pipelines) == {
        'boxes', 'masks', 'shapes_boxes', 'shapes_masks'
    }
    variants = dict(
        boxes=((640, 640), False),
        masks=((640, 640), True),
        shapes_boxes=((256, 256), False),
        shapes_masks=((256, 256), True))
    for name, (size, mask) in variants.items():
        pipeline = cfg.aug_pipelines[name]
        assert [t['type'] for t in pipeline] == types
        assert step(pipeline, 'LoadAnnotations')['with_mask'] is mask
        assert step(pipeline, 'RandomResize')['scale'] == size
        assert step(pipeline, 'RandomCropInstances')['crop_size'] == size
        assert step(pipeline, 'Pad')['size'] == size
        for t in pipeline:
            TRANSFORMS.build(copy.deepcopy(t))


def test_aug_s4_m15_fragment_reaches_every_pipeline(tmp_path):
    """aug-s4-m15.py (Table 12, ResNet-101: magnitude 15) sets the
    magnitude in the RandAugment step of every pipeline, not only in its
    ``aug_magnitude`` key (mmengine does not re-evaluate the base's dicts),
    also when a user config lists it; everything else is Aug-S4's."""
    s4 = fragment('s4')
    m15 = Config.fromfile(osp.join(FRAGMENTS, 'aug-s4-m15.py'))
    assert (m15.aug_magnitude, m15.aug_num_ops) == (15, 1)
    assert m15.aug_randaugment['magnitude'] == 15
    pipelines = dict(m15.aug_pipelines, train=m15.aug_train_pipeline)
    assert set(pipelines) == {'train', *s4.aug_pipelines}
    for name, pipeline in pipelines.items():
        ra = step(pipeline, 'DetectionRandAugment')
        assert (ra['magnitude'], ra['num_ops']) == (15, 1), name
        built = TRANSFORMS.build(copy.deepcopy(ra))
        assert built.magnitude == 15
        base = (
            s4.aug_train_pipeline
            if name == 'train' else s4.aug_pipelines[name])
        assert [dict(t, magnitude=None) for t in pipeline
                ] == [dict(t, magnitude=None) for t in base], name
    path = tmp_path / 'user_m15.py'
    path.write_text(
        f'_base_ = [{osp.join(FRAGMENTS, "aug-s4-m15.py")!r}]\n'
        'train_dataloader = dict(\n'
        '    dataset=dict(pipeline={{_base_.aug_pipelines.boxes}}))\n')
    pipeline = Config.fromfile(str(path)).train_dataloader.dataset.pipeline
    assert step(pipeline, 'DetectionRandAugment')['magnitude'] == 15


def test_changing_a_key_recipe(tmp_path):
    """The README recipe: steps rewritten from a fragment's pipeline."""
    path = tmp_path / 'lsj_1024.py'
    path.write_text(
        f'_base_ = [{osp.join(FRAGMENTS, "aug-s3.py")!r}]\n'
        'size = (1024, 1024)\n'
        'train_dataloader = dict(dataset=dict(pipeline=[\n'
        '    dict(t, **dict(RandomResize=dict(scale=size, '
        'ratio_range=(0.1, 2.0)),\n'
        '                   RandomCropInstances=dict(crop_size=size),\n'
        '                   Pad=dict(size=size)).get(t["type"], {}))\n'
        '    for t in _base_.aug_pipelines.masks\n'
        ']))\n')
    pipeline = Config.fromfile(str(path)).train_dataloader.dataset.pipeline
    assert step(pipeline, 'RandomResize')['ratio_range'] == (0.1, 2.0)
    for kind, key in (('RandomResize', 'scale'),
                      ('RandomCropInstances', 'crop_size'), ('Pad', 'size')):
        assert step(pipeline, kind)[key] == (1024, 1024)
    assert step(pipeline, 'LoadAnnotations')['with_mask'] is True
    assert step(pipeline, 'DetectionAutoAugment')['policy'] == 'v0'


def child_config(tmp_path, detector, strength, shapes_root):
    """A user config: a shapes detector + one Aug-S fragment, one wiring
    line, as README.md describes."""
    variant = 'shapes_masks' if detector == MASK_RCNN else 'shapes_boxes'
    path = tmp_path / f'{osp.basename(detector)[:-3]}_aug-{strength}.py'
    fragment_path = osp.join(FRAGMENTS, f'aug-{strength}.py')
    wiring = '{{_base_.aug_pipelines.%s}}' % variant
    path.write_text(f'_base_ = [{detector!r}, {fragment_path!r}]\n'
                    'train_dataloader = dict(\n'
                    f'    dataset=dict(pipeline={wiring}))\n')
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict({
        'train_dataloader.dataset.data_root':
        shapes_root.rstrip('/') + '/',
        'train_dataloader.num_workers':
        0,
        'train_dataloader.persistent_workers':
        False,
    })
    return path, cfg


@pytest.mark.parametrize('detector', (MASK_RCNN, RETINANET))
def test_fragment_batches_through_the_data_preprocessor(
        tmp_path, detector, shapes_root):
    init_default_scope('mmdet')
    preprocessor = None
    for strength in STRENGTHS:
        _, cfg = child_config(tmp_path, detector, strength, shapes_root)
        wired = cfg.aug_pipelines['shapes_masks' if detector ==
                                  MASK_RCNN else 'shapes_boxes']
        assert cfg.train_dataloader.dataset.pipeline == wired
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        batch = next(iter(loader))
        if preprocessor is None:  # the model's own (through wrappers)
            preprocessor = MODELS.build(cfg.model).data_preprocessor
        data = preprocessor(batch, training=True)
        assert tuple(data['inputs'].shape) == (4, 3, 256, 256)
        for sample in data['data_samples']:
            gt = sample.gt_instances
            assert len(gt.labels) == len(gt.bboxes)
            if detector == MASK_RCNN:
                assert gt.masks.masks.shape[1:] == (256, 256)
                assert len(gt.masks) == len(gt.bboxes)
            boxes = gt.bboxes.numpy()  # boxtype2tensor: a plain tensor
            assert (boxes >= 0).all() and (boxes <= 256).all()


def test_fragments_train_with_the_runner(tmp_path, shapes_root):
    """Two iterations of the real Runner per detector (no validation)."""
    for detector, strength in ((MASK_RCNN, 's3'), (RETINANET, 's4')):
        _, cfg = child_config(tmp_path, detector, strength, shapes_root)
        cfg.merge_from_dict({
            'train_cfg.max_iters': 2,
            'default_hooks.logger.interval': 1,
            'default_hooks.checkpoint.interval': 2,
            'randomness.seed': 0,
        })
        for key in ('val_cfg', 'val_dataloader', 'val_evaluator'):
            cfg[key] = None
        cfg.work_dir = str(tmp_path / f'work_{strength}')
        runner = Runner.from_cfg(cfg)
        runner.train()
        assert runner.iter == 2
        assert osp.exists(osp.join(cfg.work_dir, 'iter_2.pth'))


@settings(deadline=None, max_examples=30)
@given(results=detection_results(min_boxes=1, min_side=32, max_side=96))
def test_crop_and_filter_keep_scores_in_step(results):
    num = len(results['gt_bboxes'])
    crop = TRANSFORMS.build(
        dict(
            type='RandomCropInstances',
            crop_size=(24, 20),
            allow_negative_crop=True,
            recompute_bbox='gt_masks' in results))
    out = crop(results)
    assert out['img'].shape[:2] == (min(20, results['img_shape'][0]),
                                    min(24, results['img_shape'][1]))
    assert_rows_aligned(out, num)
    assert 'gt_instances_ids' not in out
    filtered = TRANSFORMS.build(
        dict(type='FilterInstances', min_gt_bbox_wh=(4, 4), keep_empty=False))(
            out)
    assert_rows_aligned(filtered, num)
    boxes = filtered['gt_bboxes']
    assert ((boxes.widths > 4) & (boxes.heights > 4)).all()


def test_crop_keeps_instance_ids_and_filter_keep_empty():
    results = random_results(seed=1, height=80, width=80, num_boxes=4)
    results['gt_instances_ids'] = np.array([7, 8, 9, 10])
    out = TRANSFORMS.build(
        dict(
            type='RandomCropInstances',
            crop_size=(40, 40),
            allow_negative_crop=True))(
                results)
    np.testing.assert_array_equal(out['gt_instances_ids'],
                                  out['gt_bboxes_labels'] + 7)
    empty = dict(random_results(seed=2, num_boxes=2), img_shape=(64, 80))
    drop_all = dict(type='FilterInstances', min_gt_bbox_wh=(100, 100))
    assert TRANSFORMS.build(drop_all)(copy.deepcopy(empty)) is None
    kept = TRANSFORMS.build(dict(drop_all, keep_empty=False))(empty)
    assert len(kept['gt_bboxes']) == 0 and len(kept['gt_scores']) == 0


def load_browse_tool():
    spec = importlib.util.spec_from_file_location(
        'browse_augment', osp.join(REPO, 'tools', 'browse_augment.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_browse_augment_draws_the_ladder(tmp_path, shapes_root):
    ladder = tmp_path / 'ladder.png'
    own = tmp_path / 'own.png'
    data_root = f'train_dataloader.dataset.data_root={shapes_root}/'
    run_tool(
        python_tool('browse_augment.py', MASK_RCNN, '--out', ladder,
                    '--strengths', 's1', 's4', '--shapes', '--repeats', 2,
                    '--cfg-options', data_root))
    # any mmdet config: its own train pipeline (in-process, same code)
    load_browse_tool().main([
        RETINANET, '--out',
        str(own), '--repeats', '1', '--palette', '--cfg-options', data_root
    ])
    for path, rows, cols in ((ladder, 2, 3), (own, 1, 2)):
        img = mpimg.imread(str(path))
        assert img.ndim == 3
        # one 2.4 x 2.75 inch cell per image at 110 dpi
        assert img.shape[1] == pytest.approx(cols * 2.4 * 110, abs=2)
        assert img.shape[0] == pytest.approx((rows * 2.75 + 0.4) * 110, abs=2)
        assert img[..., :3].std() > 0.05  # not a blank canvas
