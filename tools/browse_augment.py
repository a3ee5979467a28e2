"""Draw one training image under an augmentation pipeline, several times,
into one PNG grid (boxes, masks and class names drawn).

Works on any mmdet config: without ``--strengths`` one row shows the
config's own train pipeline; with ``--strengths s1 s2 s3 s4`` one row per
Aug-S1..S4 fragment (``configs/_base_/augment/aug-sN.py``, Zoph et al. 2020),
its boxes-only or boxes + masks pipeline picked by whether the config's
pipeline loads masks. Column 0 is the loaded image, unaugmented.

Example (the picture in ``configs/_base_/augment/README.md``)::

    python tools/make_shapes.py --out /tmp/shapes --train 20 --val 5 \\
        --unlabeled 5
    python tools/browse_augment.py \\
        configs/shapes/mask-rcnn_r18-scratch_fpn_gn-all_shapes.py \\
        --strengths s1 s2 s3 s4 --shapes --repeats 5 --dpi 80 --palette \\
        --out configs/_base_/augment/aug_ladder.png \\
        --cfg-options train_dataloader.dataset.data_root=/tmp/shapes/
"""
import argparse
import copy
import io
import os.path as osp
import random

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import rethink_mmdet  # noqa: F401  (registers components)
from mmdet.registry import DATASETS

FRAGMENT_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_',
    'augment')
# Transforms whose output is the loaded image, before any augmentation.
LOADING = ('LoadImageFromFile', 'LoadAnnotations', 'PackDetInputs')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw one train image under augmentation pipelines.')
    parser.add_argument('config', help='an mmdet config')
    parser.add_argument('--out', required=True, help='output PNG path')
    parser.add_argument(
        '--index', type=int, default=0, help='dataset index of the image')
    parser.add_argument(
        '--repeats', type=int, default=4, help='augmented draws per row')
    parser.add_argument(
        '--strengths',
        nargs='+',
        default=None,
        help='rows: Aug-S fragments (s1..s4, or paths to fragment files); '
        'default: the config\'s own train pipeline')
    parser.add_argument(
        '--shapes',
        action='store_true',
        help='use the fragments\' shapes_* pipelines (256x256 output)')
    parser.add_argument('--seed', type=int, default=0, help='first seed')
    parser.add_argument(
        '--dpi',
        type=int,
        default=110,
        help='PNG resolution (dots per inch '
        'of 2.4 x 2.75 inch cells)')
    parser.add_argument(
        '--palette',
        action='store_true',
        help='save a 256-colour PNG (about 3x smaller, for docs)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. '
        'train_dataloader.dataset.data_root=/tmp/shapes/')
    return parser.parse_args(argv)


def train_dataset_cfg(cfg):
    """The innermost train dataset config (through dataset wrappers)."""
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    if 'pipeline' not in dataset:
        raise KeyError(f'{cfg.filename}: train_dataloader.dataset has no '
                       'pipeline (nor a wrapped dataset with one).')
    return dataset


def loads_masks(pipeline):
    """Whether ``pipeline`` loads instance masks."""
    return any(t['type'] == 'LoadAnnotations' and t.get('with_mask', False)
               for t in pipeline)


def fragment_pipeline(strength, with_mask, shapes):
    """The train pipeline of one Aug-S fragment."""
    path = strength if strength.endswith('.py') else osp.join(
        FRAGMENT_DIR, f'aug-{strength.lower()}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'No augmentation fragment {path}: give s1, s2, s3, s4 or the '
            'path of a fragment defining aug_pipelines.')
    variant = '{}{}'.format('shapes_' if shapes else '',
                            'masks' if with_mask else 'boxes')
    pipelines = Config.fromfile(path).get('aug_pipelines', {})
    if variant not in pipelines:
        raise KeyError(f'{path} defines no aug_pipelines.{variant}.')
    name = osp.splitext(osp.basename(path))[0]
    return name.replace('aug-s', 'Aug-S'), list(pipelines[variant])


def summary(pipeline):
    """One line naming the augmenting steps of ``pipeline``."""
    parts = []
    for t in pipeline:
        kind = t['type']
        if kind in LOADING:
            continue
        if kind == 'DetectionAutoAugment':
            kind = f'AutoAugment {t.get("policy", "v0")}'
        elif kind == 'DetectionRandAugment':
            kind = (f'RandAugment N={t.get("num_ops", 1)} '
                    f'M={t.get("magnitude", 15)}')
        elif kind == 'RandomResize' and 'ratio_range' in t:
            low, high = t['ratio_range']
            kind = f'resize x{low}-{high}'
        elif kind == 'RandomFlip':
            kind = 'flip'
        elif kind in ('RandomCrop', 'RandomCropInstances'):
            kind = 'crop {}x{}'.format(*t['crop_size'])
        elif kind in ('FilterAnnotations', 'FilterInstances', 'Pad'):
            continue
        parts.append(kind)
    return ' + '.join(parts) or 'no augmentation'


def run(pipeline, info, seed):
    """``pipeline`` on a copy of ``info`` with all RNGs seeded; returns
    ``(image HWC RGB uint8, boxes, labels, masks or None)`` or None."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    out = Compose(pipeline)(copy.deepcopy(info))
    if out is None:
        return None
    img = out['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
    inst = out['data_samples'].gt_instances
    boxes = inst.bboxes
    boxes = (boxes.tensor if hasattr(boxes, 'tensor') else boxes).numpy()
    masks = inst.masks.to_ndarray() if 'masks' in inst else None
    return img, boxes, inst.labels.numpy(), masks


def draw(ax, sample, classes, title):
    """Draw one sample on a matplotlib axis."""
    import matplotlib.pyplot as plt
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    if sample is None:
        ax.text(
            0.5,
            0.5,
            'pipeline returned None\n(resampled)',
            ha='center',
            va='center',
            fontsize=9,
            transform=ax.transAxes)
        return
    img, boxes, labels, masks = sample
    colours = plt.get_cmap('tab10')
    shown = img.astype(np.float32) / 255.0
    masks = () if masks is None else masks.astype(bool)
    for mask, label in zip(masks, labels):
        colour = np.array(colours(int(label) % 10)[:3], np.float32)
        shown[mask] = 0.5 * shown[mask] + 0.5 * colour
    ax.imshow(shown)
    for mask, label in zip(masks, labels):
        if mask.any():
            ax.contour(
                mask,
                levels=[0.5],
                colors=[colours(int(label) % 10)],
                linewidths=1.0)
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        colour = colours(int(label) % 10)
        ax.add_patch(
            plt.Rectangle((x1, y1),
                          x2 - x1,
                          y2 - y1,
                          fill=False,
                          edgecolor=colour,
                          linewidth=1.5))
        name = classes[label] if label < len(classes) else str(label)
        ax.text(
            x1,
            y1,
            name,
            fontsize=7,
            color='white',
            va='bottom',
            bbox=dict(facecolor=colour, alpha=0.8, pad=1, lw=0))
    # contour() rescales the axes; keep the image's own extent
    ax.set_xlim(-0.5, img.shape[1] - 0.5)
    ax.set_ylim(img.shape[0] - 0.5, -0.5)


def main(argv=None):
    args = parse_args(argv)
    if args.repeats < 1:
        raise SystemExit('--repeats must be >= 1')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset_cfg = copy.deepcopy(train_dataset_cfg(cfg))
    own = list(dataset_cfg.pipeline)
    dataset_cfg.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    info = dataset.get_data_info(args.index)
    classes = dataset.metainfo.get('classes', ())

    with_mask = loads_masks(own)
    if args.strengths:
        rows = [
            fragment_pipeline(s, with_mask, args.shapes)
            for s in args.strengths
        ]
    else:
        rows = [(osp.basename(args.config), own)]
    plain = [t for t in own if t['type'] in LOADING]

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ncols = args.repeats + 1
    fig = plt.figure(
        figsize=(2.4 * ncols, 2.75 * len(rows) + 0.4), layout='constrained')
    fig.suptitle(
        f'{osp.basename(info["img_path"])} (dataset index '
        f'{args.index}); seeds {args.seed}..'
        f'{args.seed + args.repeats - 1}',
        fontsize=10)
    for sub, (name, pipeline) in zip(
            np.atleast_1d(fig.subfigures(len(rows), 1)), rows):
        sub.suptitle(
            f'{name}: {summary(pipeline)}', fontsize=10, fontweight='bold')
        axes = sub.subplots(1, ncols, squeeze=False)[0]
        draw(axes[0], run(plain, info, args.seed), classes, 'input')
        for k in range(args.repeats):
            draw(axes[k + 1], run(pipeline, info, args.seed + k), classes,
                 f'seed {args.seed + k}')
    if args.palette:
        from PIL import Image
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=args.dpi, format='png')
        buffer.seek(0)
        Image.open(buffer).convert('RGB').quantize(256).save(
            args.out, optimize=True)
    else:
        fig.savefig(args.out, dpi=args.dpi)
    plt.close(fig)
    print(f'wrote {args.out}: {len(rows)} rows x {ncols} columns')


if __name__ == '__main__':
    main()
