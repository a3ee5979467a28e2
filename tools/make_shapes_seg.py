# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Write the built-in shapes data's class maps (semantic segmentation).

Makes the shapes data first when ``--root`` has none, then writes
``ROOT/seg_maps/{train,val,unlabeled}/*.png`` (0 background, 1..4 the shape
classes; the unlabeled split's maps are its hidden ground truth, for scoring
pseudo labels only). See :mod:`rethink_mmdet.data.shapes_seg`.

Example::

    python tools/make_shapes_seg.py --root data/shapes
    # the data of configs/studies/shapes_seg_selftrain.py
    python tools/make_shapes_seg.py --root data/shapes_seg --train 200 \
        --val 100 --unlabeled 1200 --image-size 128
"""
import argparse
import os.path as osp

from rethink_mmdet.data.shapes import make_shapes
from rethink_mmdet.data.shapes_seg import SEG_CLASSES, make_shapes_seg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the shapes data class maps (segmentation)')
    parser.add_argument('--root', required=True, help='shapes data root')
    parser.add_argument(
        '--train',
        type=int,
        default=400,
        help='train images, if the shapes data is made here')
    parser.add_argument('--val', type=int, default=100)
    parser.add_argument('--unlabeled', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--image-size', type=int, default=256)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(
            osp.join(args.root, 'annotations', 'instances_train.json')):
        make_shapes(
            args.root,
            num_train=args.train,
            num_val=args.val,
            num_unlabeled=args.unlabeled,
            seed=args.seed,
            image_size=args.image_size)
    written = make_shapes_seg(args.root)
    print(f'classes: {", ".join(SEG_CLASSES)}')
    for split, num in written.items():
        print(f'{split}: {num} class maps -> '
              f'{osp.join(args.root, "seg_maps", split)}')


if __name__ == '__main__':
    main()
