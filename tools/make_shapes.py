# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Generate the synthetic COCO-format ``shapes`` dataset (train, val, an
image-only unlabeled split and, in a file training never reads, the
unlabeled split's hidden ground truth).

Example::

    python tools/make_shapes.py --out data/shapes --train 400 --val 100 \\
        --unlabeled 200 --seed 0
"""
import argparse
import json

from rethink_mmdet.data.shapes import SHAPES_CLASSES, make_shapes


def parse_args(argv=None):
    """Parse command line arguments.

    Args:
        argv (list[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate the synthetic COCO-format shapes dataset')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '--train', type=int, default=400, help='number of train images')
    parser.add_argument(
        '--val', type=int, default=100, help='number of val images')
    parser.add_argument(
        '--unlabeled',
        type=int,
        default=200,
        help='number of unlabeled images')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--image-size', type=int, default=256, help='image side length')
    return parser.parse_args(argv)


def main(argv=None):
    """Generate the dataset and print its paths and statistics.

    Args:
        argv (list[str], optional): Arguments. Defaults to None.
    """
    args = parse_args(argv)
    paths = make_shapes(
        args.out,
        num_train=args.train,
        num_val=args.val,
        num_unlabeled=args.unlabeled,
        seed=args.seed,
        image_size=args.image_size)
    print(f'root: {paths["root"]}')
    print(f'classes: {", ".join(SHAPES_CLASSES)}')
    for split, key in (('train', 'train_ann'), ('val', 'val_ann'),
                       ('unlabeled', 'unlabeled_ann'),
                       ('unlabeled (hidden ground truth)', 'unlabeled_gt')):
        with open(paths[key], encoding='utf-8') as f:
            coco = json.load(f)
        num_images = len(coco['images'])
        line = f'{split}: {num_images} images'
        if 'annotations' in coco:
            num_inst = len(coco['annotations'])
            per_img = num_inst / max(num_images, 1)
            line += f', {num_inst} instances ({per_img:.2f}/image)'
        print(f'{line} -> {paths[key]}')


if __name__ == '__main__':
    main()
