"""Training throughput and peak memory of any config, on generated data.

Runs the real mmengine Runner for ``--iters`` iterations of CONFIG with its
data pointed at the built-in shapes dataset (generated at ``--image-size``,
so a COCO config sees images of COCO-like size) and prints seconds per
iteration (after ``--warmup`` iterations), images per second and, on CUDA,
peak GPU memory. Example (GPU machine)::

    python tools/benchmark/train_throughput.py \\
        configs/rethinking-imagenet-pretraining/\\
mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py \\
        --image-size 800 --iters 60 --warmup 10
"""
import argparse
import os.path as osp
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

import rethink_mmdet  # noqa: F401
from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_config import use_shapes_data


class _IterClock(Hook):
    """Records the wall time at the end of every training iteration."""

    def __init__(self):
        self.stamps = []

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.stamps.append(time.perf_counter())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--image-size', type=int, default=800)
    parser.add_argument('--num-images', type=int, default=32)
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='throughput_')
    data_root = osp.join(work_dir, 'shapes')
    make_shapes(
        data_root, args.num_images, 4, 0, seed=0, image_size=args.image_size)
    cfg = Config.fromfile(args.config)
    use_shapes_data(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop',
        max_iters=args.iters,
        val_interval=args.iters + 1)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=args.iters + 1, by_epoch=False)
    cfg.resume = False
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    runner = Runner.from_cfg(cfg)
    clock = _IterClock()
    runner.register_hook(clock, priority='VERY_LOW')
    runner.train()

    stamps = clock.stamps[args.warmup:]
    sec = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    batch = cfg.train_dataloader.batch_size * runner.world_size
    print(f'config: {osp.basename(args.config)}')
    device = (
        torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')
    print(f'device: {device}, world size {runner.world_size}, images '
          f'{args.image_size}px, batch {batch}')
    print(f'{sec:.3f} s/iter, {batch / sec:.1f} images/s '
          f'(iterations {args.warmup + 1}-{len(clock.stamps)})')
    if torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f'peak GPU memory {peak:.2f} GiB')


if __name__ == '__main__':
    main()
