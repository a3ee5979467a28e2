"""The main job: train a tiny GN Mask R-CNN from random init on the built-in
shapes dataset and print its COCO bbox and mask AP (pycocotools).

This is He et al. 2019's recipe (GN everywhere, nothing frozen, no
pre-training) at a size that runs on 2 CPU cores in minutes::

    python tools/shapes_demo.py [--config CONFIG] [--data-root data/shapes]
        [--work-dir work_dirs/shapes_demo] [--num-train 600] [--num-val 100]
        [--num-unlabeled 100] [--seed 0] [--cfg-options ...]

The dataset is generated first if ``DATA_ROOT/annotations`` is missing.
Metrics are printed and written to ``WORK_DIR/metrics.json``.
"""
import argparse
import json
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import rethink_mmdet  # noqa: F401
from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_config import use_shapes_data
from rethink_mmdet.utils import atomic_write

HERE = osp.dirname(osp.abspath(__file__))
DEFAULT_CONFIG = osp.join(HERE, '..', 'configs', 'shapes',
                          'mask-rcnn_r18-scratch_fpn_gn-all_shapes.py')
# Default split sizes of the demo dataset.
NUM_TRAIN, NUM_VAL, NUM_UNLABELED = 600, 100, 100


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument('--work-dir', default='work_dirs/shapes_demo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=NUM_VAL)
    parser.add_argument('--num-unlabeled', type=int, default=NUM_UNLABELED)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.isdir(osp.join(args.data_root, 'annotations')):
        print(f'Generating the shapes dataset in {args.data_root} ...')
        make_shapes(
            args.data_root,
            args.num_train,
            args.num_val,
            args.num_unlabeled,
            seed=args.seed)
    cfg = Config.fromfile(args.config)
    use_shapes_data(cfg, args.data_root)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # Evaluate once, at the end of training (the loop always validates at
    # its last iteration); RuntimeInfoHook puts the metrics in the message
    # hub as `val/<name>`.
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters

    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = {
        key[len('val/'):]: float(buf.current())
        for key, buf in runner.message_hub.log_scalars.items()
        if key.startswith('val/')
    }

    atomic_write(
        json.dumps(metrics, indent=2, sort_keys=True) + '\n',
        osp.join(args.work_dir, 'metrics.json'))
    print('\nshapes val (pycocotools COCO metrics, trained from random '
          'init):')
    for task in ('bbox', 'segm'):
        keys = [
            f'coco/{task}_mAP', f'coco/{task}_mAP_50', f'coco/{task}_mAP_75'
        ]
        if keys[0] in metrics:
            name = 'mask' if task == 'segm' else 'bbox'
            print(f'  {name} AP {metrics[keys[0]]:.3f}   '
                  f'AP50 {metrics[keys[1]]:.3f}   AP75 {metrics[keys[2]]:.3f}')


if __name__ == '__main__':
    main()
