# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Generate the shapes classification dataset (the ImageNet stand-in that
``configs/shapes/cls_r18-tiny_gn_shapes-cls.py`` pre-trains on).

Example::

    python tools/make_shapes_classification.py --out data/shapes_cls \\
        --train 2000 --val 400 --seed 0 --img-size 64
"""
import argparse
import collections
import json

from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.data.shapes_classification import make_shapes_classification


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
        img_size=args.img_size)
    print(f'root: {paths["root"]}')
    for split in ('train', 'val'):
        with open(paths[f'{split}_ann'], encoding='utf-8') as f:
            data_list = json.load(f)['data_list']
        counts = collections.Counter(d['gt_label'] for d in data_list)
        per_class = ', '.join(f'{name} {counts[i]}'
                              for i, name in enumerate(SHAPES_CLASSES))
        print(f'{split}: {len(data_list)} images ({per_class}) -> '
              f'{paths[f"{split}_ann"]}')


if __name__ == '__main__':
    main()
