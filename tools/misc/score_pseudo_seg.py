"""Score a segmentation pseudo-label store against ground-truth class maps
(Zoph et al. 2020, Sec. 3.2: how many pixels the 0.5 threshold keeps and
how right they are). See :func:`rethink_mmdet.seg.score_pseudo_labels`.

Example (the shapes data: the unlabeled split's hidden class maps)::

    python tools/misc/score_pseudo_seg.py work_dirs/pseudo_seg \\
        data/shapes/seg_maps/unlabeled [--json scores.json]

Prints the kept fraction, the per-class IoU on kept pixels and with ignored
pixels counted as wrong, and their means.
"""
import argparse
import json

from rethink_mmdet.utils import dump_json


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('store', help='finished segmentation store')
    parser.add_argument('gt_dir', help='folder of ground-truth class maps')
    parser.add_argument('--gt-suffix', default='.png')
    parser.add_argument('--img-root', default=None)
    parser.add_argument('--json', default=None, help='also write them here')
    args = parser.parse_args()
    from rethink_mmdet.seg import score_pseudo_labels
    score = score_pseudo_labels(args.store, args.gt_dir, args.gt_suffix,
                                args.img_root)
    print(f'{score["num_images"]} images, kept fraction '
          f'{score["kept_fraction"]:.4f}, kept mIoU {score["kept_miou"]:.4f}'
          f' (accuracy {score["kept_accuracy"]:.4f}), mIoU with ignored '
          f'pixels wrong {score["miou"]:.4f}')
    print('| class | IoU on kept pixels | IoU, ignored = wrong |')
    print('|---|---:|---:|')
    for name, kept, every in zip(score['classes'], score['kept_iou'],
                                 score['iou']):
        print(f'| {name} | {kept:.4f} | {every:.4f} |')
    if args.json:
        dump_json(score, args.json, canonical=False)
    else:
        print(json.dumps(score))


if __name__ == '__main__':
    main()
