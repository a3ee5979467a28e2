"""Segmentation Aug-S1 / Aug-S4 (configs/_base_/augment/seg-aug-s*.py):
the detection RandAugment ops move ``gt_seg_map`` with the image through a
real mmseg pipeline (LoadImageFromFile, LoadAnnotations, op,
PackSegInputs), vacated label pixels get the ignore index 255, colour ops
and Cutout leave the labels untouched (Zoph et al. 2020, Sec. 3.1)."""
import os.path as osp

import mmcv
import numpy as np
import pytest

pytest.importorskip('mmseg')

from mmengine.config import Config  # noqa: E402
from mmengine.dataset import Compose  # noqa: E402

import rethink_mmdet.seg  # noqa: E402,F401
from rethink_mmdet.augment.policies import BBOX_ONLY_OPS, op_config  # noqa
from rethink_mmdet.augment.randaugment import EFFICIENTDET_OPS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AUG = osp.join(REPO, 'configs', '_base_', 'augment')
IGNORE = 255
FILL = 128
GEOMETRIC = ('TranslateX_BBox', 'TranslateY_BBox', 'ShearX_BBox',
             'ShearY_BBox', 'Rotate_BBox')
IMAGE_ONLY = ('Equalize', 'Solarize', 'SolarizeAdd', 'Color', 'Cutout')


def colour_of(label):
    """The BGR colour of every pixel of class ``label`` (never the fill
    128, 128, 128), shape ``label.shape + (3, )``."""
    label = label.astype(np.int64)
    return np.stack([label * 20 + 10, 200 - label * 30, 60 + label * 25],
                    axis=-1)


@pytest.fixture(scope='module')
def sample(tmp_path_factory):
    """A 96x128 image of 8x8 class blocks (classes 0..4) whose colour is
    a function of the class, and its label PNG."""
    root = tmp_path_factory.mktemp('seg_aug')
    rng = np.random.RandomState(0)
    blocks = rng.randint(0, 5, size=(12, 16))
    label = np.kron(blocks, np.ones((8, 8), dtype=np.int64)).astype(np.uint8)
    img = colour_of(label).astype(np.uint8)
    img_path, seg_path = str(root / 'img.png'), str(root / 'seg.png')
    mmcv.imwrite(img, img_path)
    mmcv.imwrite(label, seg_path)
    return dict(
        img_path=img_path,
        seg_map_path=seg_path,
        reduce_zero_label=False,
        seg_fields=[]), img, label


def run(transforms, sample_info):
    pipeline = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'), *transforms,
        dict(type='PackSegInputs', meta_keys=('img_shape', ))
    ])
    packed = pipeline(dict(sample_info))
    img = packed['inputs'].numpy().transpose(1, 2, 0)
    label = packed['data_samples'].gt_sem_seg.data.numpy()[0]
    return img, label


def op(name):
    """The released op at probability 1, level 10, through mmdet's scope."""
    cfg = op_config(name, 1.0, 10)
    return dict(cfg, type='mmdet.' + cfg['type'])


@pytest.mark.parametrize('name', GEOMETRIC)
def test_geometric_op_moves_labels_with_the_image(sample, name):
    info, img0, label0 = sample
    moved = False
    for seed in range(3):  # both signs of the magnitude
        np.random.seed(seed)
        img, label = run([op(name)], info)
        assert img.shape[:2] == label.shape == label0.shape
        valid = label != IGNORE
        # every labelled pixel still shows its class's colour ...
        assert (img[valid] == colour_of(label[valid])).all()
        # ... and every vacated pixel is image fill and ignore label
        assert (img[~valid] == FILL).all()
        assert set(np.unique(label[valid])) <= set(range(5))
        moved |= bool((~valid).any()) and not np.array_equal(label, label0)
    assert moved, f'{name} at level 10 never moved the label map'


@pytest.mark.parametrize('name', IMAGE_ONLY)
def test_image_only_op_leaves_labels(sample, name):
    info, img0, label0 = sample
    np.random.seed(0)
    img, label = run([op(name)], info)
    assert np.array_equal(label, label0)
    assert not np.array_equal(img, img0), f'{name} did not change the image'


def test_randaugment_ops_of_the_fragment_have_no_box_only_op():
    cfg = Config.fromfile(osp.join(AUG, 'seg-aug-s4.py'))
    ops = cfg.seg_aug_randaugment['ops']
    assert not set(ops) & set(BBOX_ONLY_OPS)
    assert 'BBox_Cutout' not in ops
    assert tuple(ops) == EFFICIENTDET_OPS
    assert cfg.seg_aug_randaugment['magnitude'] == 10
    assert tuple(cfg.seg_aug_ratio_range) == (0.5, 2.0)


@pytest.mark.parametrize('fragment,ratio', [('seg-aug-s1.py', (0.8, 1.2)),
                                            ('seg-aug-s4.py', (0.5, 2.0))])
def test_fragment_pipeline_runs_and_keeps_labels_with_pixels(
        sample, fragment, ratio):
    """The whole Aug-S pipeline (shapes variant, 64 px crop): labels stay
    on their pixels (RandAugment, flip, resize and crop move both)."""
    cfg = Config.fromfile(osp.join(AUG, fragment))
    assert tuple(cfg.seg_aug_ratio_range) == ratio
    pipeline = [
        dict(t, crop_size=(64, 64)) if t['type'] == 'RandomCrop' else
        dict(t, scale=(128, 128)) if t['type'] == 'RandomResize' else t
        for t in cfg.seg_aug_pipelines.shapes
    ]
    info = sample[0]
    for seed in range(4):
        np.random.seed(seed)
        packed = Compose(pipeline)(dict(info))
        label = packed['data_samples'].gt_sem_seg.data.numpy()[0]
        assert label.shape[0] <= 64 and label.shape[1] <= 64
        assert set(np.unique(label)) <= set(range(5)) | {IGNORE}
