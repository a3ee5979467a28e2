"""Pseudo-labeling throughput and peak memory: labeler vs mmdet's test loop.

Labels N unlabeled shapes images with the same teacher twice, each in a
fresh process (one rank, batch 1, no loader workers, one thread):

- ``labeler``: :func:`rethink_mmdet.self_training.labeler.label_images`
  (streams chunks of ``--chunk-size`` images to a store);
- ``Runner.test``: mmengine's test loop over the same images as an
  image-only ``CocoDataset`` (``test_mode=True``) with ``DumpDetResults``
  (mmdet ``tools/test.py --out``), which keeps every prediction in memory
  until the end.

and prints images/s and the peak RSS of the process for each N. The images
are ``--unique`` generated shapes images cycled to N (a list file for the
labeler, a COCO JSON with N ids for the runner), so a large N costs no
generation time. Without ``--checkpoint`` the teacher keeps its random
initialisation (every image then yields ``max_per_img`` boxes + masks, the
worst case for memory). Example::

    python tools/benchmark/pseudo_label_throughput.py --sizes 200 2000
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MASK_RCNN = osp.join(REPO, 'configs', 'shapes',
                     'mask-rcnn_r18-scratch_fpn_gn-all_shapes.py')
MODES = ('labeler', 'Runner.test')


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_init_checkpoint(config, work_dir, classes=None):
    """``work_dir/teacher_random_init.pth``: the config's model at its
    random initialisation (seed 0) with the class names in its meta
    (default: the shapes detection classes; every image then yields
    ``max_per_img`` boxes, the worst case for memory). The model is built
    in the config's ``default_scope`` (``mmseg`` for a segmentor)."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    from mmdet.registry import MODELS
    from rethink_mmdet.data.shapes import SHAPES_CLASSES
    MMLogger.get_instance('random_init_checkpoint', log_level='WARNING')
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = osp.join(work_dir, 'teacher_random_init.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                dataset_meta=dict(classes=tuple(classes or SHAPES_CLASSES)))),
        checkpoint)
    return checkpoint


def cycled_images(names, n, image_size):
    """COCO ``images`` records of ``n`` images, ids 1..n, cycling through
    the file ``names``."""
    return [
        dict(
            id=i + 1,
            file_name=names[i % len(names)],
            height=image_size,
            width=image_size) for i in range(n)
    ]


def prepare(work_dir, config, checkpoint, unique, sizes, image_size):
    """Images, per-size list files and COCO JSONs, and a checkpoint."""
    from rethink_mmdet.data import make_shapes
    root = osp.join(work_dir, 'shapes')
    make_shapes(root, 0, 0, unique, seed=0, image_size=image_size)
    names = sorted(os.listdir(osp.join(root, 'unlabeled')))
    with open(osp.join(root, 'annotations', 'image_info_unlabeled.json')) as f:
        info = json.load(f)
    for n in sizes:
        with open(osp.join(work_dir, f'images_{n}.txt'), 'w') as f:
            f.writelines(f'unlabeled/{names[i % len(names)]}\n'
                         for i in range(n))
        images = cycled_images(names, n, image_size)
        with open(osp.join(work_dir, f'images_{n}.json'), 'w') as f:
            json.dump(dict(images=images, categories=info['categories']), f)
    if checkpoint is None:
        checkpoint = random_init_checkpoint(config, work_dir)
    return root, checkpoint


def child(args):
    """Run one mode over one size in this process; print a JSON line."""
    import torch
    from mmengine.config import Config

    import rethink_mmdet  # noqa: F401
    torch.set_num_threads(1)
    n = args.child_size
    cfg = Config.fromfile(args.config)
    out = osp.join(args.work_dir, f'{args.child_mode}_{n}')
    root = osp.join(args.work_dir, 'shapes')
    if args.child_mode == 'labeler':
        from rethink_mmdet.self_training.labeler import label_images
        start = time.perf_counter()
        meta = label_images(
            cfg,
            args.checkpoint,
            osp.join(args.work_dir, f'images_{n}.txt'),
            out,
            score_thr=args.score_thr,
            chunk_size=args.chunk_size,
            batch_size=1,
            num_workers=0,
            img_root=root)
        seconds = time.perf_counter() - start
        boxes = meta['num_boxes']
    else:
        from mmengine.runner import Runner

        from rethink_mmdet.self_training.labeler import test_pipeline_cfg
        pipeline = test_pipeline_cfg(cfg)
        cfg.test_dataloader = dict(
            batch_size=1,
            num_workers=0,
            persistent_workers=False,
            drop_last=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='CocoDataset',
                data_root=root,
                ann_file=osp.join(args.work_dir, f'images_{n}.json'),
                data_prefix=dict(img='unlabeled/'),
                test_mode=True,
                metainfo=dict(
                    classes=('circle', 'triangle', 'square', 'star')),
                pipeline=pipeline))
        cfg.test_evaluator = dict(
            type='DumpDetResults', out_file_path=out + '.pkl')
        cfg.test_cfg = dict(type='TestLoop')
        cfg.work_dir = out
        cfg.load_from = args.checkpoint
        cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
        cfg.log_level = 'WARNING'
        start = time.perf_counter()
        Runner.from_cfg(cfg).test()
        seconds = time.perf_counter() - start
        boxes = None
    print(
        'RESULT ' + json.dumps(
            dict(
                mode=args.child_mode,
                images=n,
                seconds=seconds,
                boxes=boxes,
                peak_rss_mb=peak_rss_mb())),
        flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=MASK_RCNN)
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument(
        '--unique',
        type=int,
        default=32,
        help='distinct generated images, cycled to N')
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--score-thr', type=float, default=0.05)
    parser.add_argument('--chunk-size', type=int, default=256)
    parser.add_argument('--modes', nargs='+', choices=MODES, default=MODES)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--child-mode', help=argparse.SUPPRESS)
    parser.add_argument('--child-size', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_mode:
        return child(args)

    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='pl_bench_')
    _, args.checkpoint = prepare(args.work_dir, args.config, args.checkpoint,
                                 args.unique, args.sizes, args.image_size)
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    rows = []
    for n in args.sizes:
        for mode in args.modes:
            cmd = [
                sys.executable,
                osp.abspath(__file__), '--config', args.config, '--checkpoint',
                args.checkpoint, '--work-dir', args.work_dir, '--score-thr',
                str(args.score_thr), '--chunk-size',
                str(args.chunk_size), '--child-mode', mode, '--child-size',
                str(n)
            ]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            lines = [
                line for line in proc.stdout.splitlines()
                if line.startswith('RESULT ')
            ]
            if proc.returncode != 0 or not lines:
                sys.exit(f'{mode} on {n} images failed:\n'
                         f'{proc.stderr[-4000:]}')
            rows.append(json.loads(lines[-1][len('RESULT '):]))
            r = rows[-1]
            print(
                f'done: {mode} {n} images in {r["seconds"]:.1f} s',
                file=sys.stderr,
                flush=True)

    print(f'\nconfig: {osp.basename(args.config)}, '
          f'{args.image_size}px images, batch 1, 1 process, 1 thread, '
          f'score >= {args.score_thr}, chunk {args.chunk_size}')
    print('| mode | images | seconds | images/s | peak RSS (MiB) |')
    print('|---|---:|---:|---:|---:|')
    for r in rows:
        print(f'| {r["mode"]} | {r["images"]} | {r["seconds"]:.1f} | '
              f'{r["images"] / r["seconds"]:.2f} | '
              f'{r["peak_rss_mb"]:.0f} |')


if __name__ == '__main__':
    main()
