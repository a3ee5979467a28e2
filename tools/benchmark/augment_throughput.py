"""Augmentation throughput: our Aug-S1..S4 operations and pipelines beside
mmdet's nearest equivalents, images per second in one process.

Inputs are real shapes images (boxes + instance masks) at the shapes size
(256x256) and at COCO size (640x480, resized with mmdet's ``Resize``). Each
transform runs on ``--images`` fresh copies of the inputs (copies made
before the clock starts), single-threaded as in a dataloader worker
(``cv2.setNumThreads(0)``, like mmengine's worker set-up). Pipelines
(``aug-s1..4`` and mmdet's standard flip + resize train pipeline) are timed
from the decoded image file to ``PackDetInputs``. A worker-count figure
``x8`` is the single-process rate times 8, an upper bound for 8 dataloader
workers on 8 free cores (it is not measured with 8 workers here)::

    python tools/benchmark/augment_throughput.py [--images 200] [--json out]
"""
import argparse
import copy
import json
import os
import os.path as osp
import tempfile
import time

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import rethink_mmdet  # noqa: F401  (registers the transforms)
from rethink_mmdet.data import make_shapes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LADDER = osp.join(REPO, 'configs', '_base_', 'augment')

#: (name, ours, mmdet's nearest equivalent or None), level as in policy v0.
OPS = [
    ('TranslateX L4', dict(type='TranslateXBBox', level=4),
     dict(type='TranslateX', level=4, max_mag=250 / 640)),
    ('ShearX L2', dict(type='ShearXBBox',
                       level=2), dict(type='ShearX', level=2, max_mag=30.0)),
    ('Rotate L10', dict(type='RotateBBox',
                        level=10), dict(type='Rotate', level=10,
                                        max_mag=30.0)),
    # like for like: mmdet's geometric ops interpolate bilinearly, the
    # released ones (our default) take the nearest pixel
    ('TranslateX L4 bilinear',
     dict(type='TranslateXBBox', level=4, interpolation='bilinear'),
     dict(type='TranslateX', level=4, max_mag=250 / 640)),
    ('ShearX L2 bilinear',
     dict(type='ShearXBBox', level=2, interpolation='bilinear'),
     dict(type='ShearX', level=2, max_mag=30.0)),
    ('Rotate L10 bilinear',
     dict(type='RotateBBox', level=10, interpolation='bilinear'),
     dict(type='Rotate', level=10, max_mag=30.0)),
    ('Cutout L8', dict(type='CenteredCutout', level=8),
     dict(type='CutOut', n_holes=1, cutout_shape=(160, 160))),
    ('BBoxCutout L4', dict(type='BBoxCutout', level=4), None),
    ('TranslateY_Only_BBoxes L6',
     dict(type='TranslateYOnlyBBoxes', prob=0.6, level=6), None),
    ('Rotate_Only_BBoxes L10',
     dict(type='RotateOnlyBBoxes', prob=0.6, level=10), None),
    ('Equalize_Only_BBoxes L8',
     dict(type='EqualizeOnlyBBoxes', prob=0.6, level=8), None),
    ('Color_Only_BBoxes L6', dict(type='ColorOnlyBBoxes', prob=0.6,
                                  level=6), None),
    ('AutoAugment', dict(type='DetectionAutoAugment',
                         policy='v0'), dict(type='AutoAugment')),
    ('RandAugment', dict(type='DetectionRandAugment'),
     dict(type='RandAugment')),
]
#: mmdet's standard Mask R-CNN train pipeline (the Aug-S0 of mmdet users).
MMDET_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]


def load_samples(root, num, size):
    """``num`` shapes training images as loaded results dicts, resized to
    ``size`` (w, h)."""
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    load = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=size, keep_ratio=False),
    ])
    samples = []
    for img in coco['images'][:num]:
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        results = dict(
            img_path=osp.join(root, 'train', img['file_name']),
            img_id=img['id'],
            height=img['height'],
            width=img['width'],
            instances=[
                dict(
                    bbox=[
                        a['bbox'][0], a['bbox'][1],
                        a['bbox'][0] + a['bbox'][2],
                        a['bbox'][1] + a['bbox'][3]
                    ],
                    bbox_label=a['category_id'] - 1,
                    ignore_flag=0,
                    mask=a['segmentation']) for a in anns
            ])
        results = load(results)
        results.pop('scale', None)
        results.pop('scale_factor', None)
        samples.append(results)
    return samples


def rate(transform, samples, images, seed=0):
    """Images per second of ``transform`` over ``images`` copies."""
    inputs = [copy.deepcopy(samples[i % len(samples)]) for i in range(images)]
    np.random.seed(seed)
    start = time.perf_counter()
    for results in inputs:
        transform(results)
    return images / (time.perf_counter() - start)


def file_rate(pipeline, root, images, seed=0):
    """Images per second of a whole pipeline, from the image file."""
    from mmdet.registry import DATASETS
    ds = DATASETS.build(
        dict(
            type='ShapesDataset',
            data_root=root,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            pipeline=pipeline,
            filter_cfg=dict(filter_empty_gt=True)))
    np.random.seed(seed)
    start = time.perf_counter()
    for i in range(images):
        ds[i % len(ds)]
    return images / (time.perf_counter() - start)


def ladder_pipeline(strength, shapes):
    """The Aug-S{strength} boxes + masks pipeline of ``configs/_base_/
    augment`` (its 256x256 shapes variant when ``shapes``)."""
    cfg = Config.fromfile(osp.join(LADDER, f'aug-{strength}.py'))
    return copy.deepcopy(
        cfg.aug_pipelines['shapes_masks' if shapes else 'masks'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=200)
    parser.add_argument('--json', default=None)
    args = parser.parse_args()
    cv2.setNumThreads(0)
    init_default_scope('mmdet')
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    from mmdet.registry import TRANSFORMS
    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for tag, img_size, size in (('shapes 256x256', 256, (256, 256)),
                                    ('COCO-size 640x480', 640, (640, 480))):
            root = osp.join(tmp, str(img_size))
            make_shapes(
                root,
                num_train=20,
                num_val=1,
                num_unlabeled=1,
                seed=0,
                image_size=img_size)
            samples = load_samples(root, 20, size)
            for name, ours, theirs in OPS:
                r_ours = rate(TRANSFORMS.build(ours), samples, args.images)
                r_mm = (
                    rate(TRANSFORMS.build(theirs), samples, args.images)
                    if theirs else None)
                rows.append((tag, name, r_ours, r_mm))
            for strength in ('s1', 's2', 's3', 's4'):
                pipe = ladder_pipeline(strength, shapes=img_size == 256)
                rows.append((tag, f'Aug-{strength.upper()} pipeline',
                             file_rate(pipe, root, args.images), None))
            rows.append((tag, 'mmdet flip+resize pipeline',
                         file_rate(MMDET_PIPELINE, root, args.images), None))
    print('| images | operation | ours (img/s) | mmdet (img/s) | ratio | '
          'ours x8 workers |')
    print('|---|---|---:|---:|---:|---:|')
    for tag, name, r_ours, r_mm in rows:
        mm = f'{r_mm:.0f}' if r_mm else '-'
        ratio = f'{r_ours / r_mm:.2f}' if r_mm else '-'
        print(f'| {tag} | {name} | {r_ours:.0f} | {mm} | {ratio} | '
              f'{8 * r_ours:.0f} |')
        out[f'{tag}/{name}'] = dict(ours=r_ours, mmdet=r_mm)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
