# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Generate the shapes classification dataset (the ImageNet stand-in that
``configs/shapes/cls_r18-tiny_gn_shapes-cls.py`` pre-trains on).

By default its 10 classes are shape families and textures that the
detection data does not contain (``--families disjoint``, out of domain as
ImageNet is for COCO); ``--families detection`` writes the former in-domain
set of the detector's own four shape families (train it with
``--cfg-options model.num_classes=4``).

Example::

    python tools/make_shapes_classification.py --out data/shapes_cls \\
        --train 2000 --val 400 --seed 0 --img-size 64
"""
import argparse
import collections
import json

from rethink_mmdet.data.shapes_classification import (
    SHAPES_CLS_FAMILIES, make_shapes_classification)


def parse_args(argv=None):
    """Parse command line arguments.

    Args:
        argv (list[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate the shapes classification dataset')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '--train', type=int, default=2000, help='number of train images')
    parser.add_argument(
        '--val', type=int, default=400, help='number of val images')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--img-size', type=int, default=64, help='image side length')
    parser.add_argument(
        '--families',
        choices=sorted(SHAPES_CLS_FAMILIES),
        default='disjoint',
        help='class set: shape families and textures absent from the '
        'detection data (disjoint, the default) or the detection data\'s '
        'own four shape families (detection, in-domain)')
    return parser.parse_args(argv)


def main(argv=None):
    """Generate the dataset and print its paths and class counts.

    Args:
        argv (list[str], optional): Arguments. Defaults to None.
    """
    args = parse_args(argv)
    paths = make_shapes_classification(
        args.out,
        num_train=args.train,
        num_val=args.val,
        seed=args.seed,
        img_size=args.img_size,
        families=args.families)
    classes = SHAPES_CLS_FAMILIES[args.families]
    print(f'root: {paths["root"]}')
    for split in ('train', 'val'):
        with open(paths[f'{split}_ann'], encoding='utf-8') as f:
            data_list = json.load(f)['data_list']
        counts = collections.Counter(d['gt_label'] for d in data_list)
        per_class = ', '.join(f'{name} {counts[i]}'
                              for i, name in enumerate(classes))
        print(f'{split}: {len(data_list)} images ({per_class}) -> '
              f'{paths[f"{split}_ann"]}')


if __name__ == '__main__':
    main()
