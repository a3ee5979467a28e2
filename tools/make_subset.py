# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Write a deterministic random subset of a COCO annotation file.

Images are sampled without replacement from the ids sorted ascending with
``numpy.random.Generator(PCG64(seed))``, so the subset is the same on every
machine and rank whatever the JSON order (see
:mod:`rethink_mmdet.data.subset`). ``--fraction F`` keeps
``round(F * total)`` images (nearest integer, halves up).

Examples::

    # Zoph et al. 2020: 20% of COCO train2017 labelled, the rest unlabelled
    A=data/coco/annotations
    python tools/make_subset.py $A/instances_train2017.json \\
        --fraction 0.2 --seed 1 --out $A/instances_train2017.1@20.json \\
        --rest-out $A/image_info_train2017.1@20-rest.json
    # He et al. 2019: 10k images
    python tools/make_subset.py $A/instances_train2017.json \\
        --num-images 10000 --seed 0 --out $A/instances_train2017.10k.json

Besides ``--out`` it writes the chosen image ids, one per line, to
``--out`` with the extension replaced by ``.ids.txt``.
"""
import argparse
import sys

from rethink_mmdet.data.subset import make_subset


def parse_args(argv=None):
    """Parse command line arguments.

    Args:
        argv (list[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write a random COCO subset (exact size, sampled without '
        'replacement, same on every machine for the same seed)')
    parser.add_argument('ann_file', help='input COCO annotation JSON')
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument(
        '--num-images', type=int, help='number of images to keep')
    size.add_argument(
        '--fraction',
        type=float,
        help='fraction of images to keep, in (0, 1]; '
        'round(F * total) images')
    parser.add_argument('--seed', type=int, required=True, help='seed')
    parser.add_argument('--out', required=True, help='output subset JSON')
    parser.add_argument(
        '--rest-out',
        default=None,
        help='optional image-only JSON of the images not chosen')
    return parser.parse_args(argv)


def main(argv=None):
    """Write the subset and print what was written.

    Args:
        argv (list[str], optional): Arguments. Defaults to None.
    """
    args = parse_args(argv)
    try:
        info = make_subset(
            args.ann_file,
            args.out,
            num_images=args.num_images,
            fraction=args.fraction,
            seed=args.seed,
            rest_file=args.rest_out)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
    print(f'subset: {info["num_images"]} of {info["num_total"]} images, '
          f'{info["num_annotations"]} annotations, seed {info["seed"]} '
          f'-> {info["out_file"]}')
    print(f'ids: {info["ids_file"]}')
    if info['rest_file'] is not None:
        print(f'rest: {info["num_rest"]} images -> {info["rest_file"]}')


if __name__ == '__main__':
    main()
