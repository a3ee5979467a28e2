"""Pseudo-label unlabeled images with a teacher detector or segmentor (Zoph
et al. 2020).

Runs TEACHER_CONFIG + CHECKPOINT with its test pipeline (no augmentation,
no annotation loading) over an image folder (recursive, sorted), a text file
of image paths (one per line) or an image-only COCO JSON (images sorted by
id), and writes every box scoring at least ``--score-thr`` (with its score,
and its mask as COCO RLE for instance-segmentation teachers) into the
pseudo-label store ``--out`` (see :mod:`rethink_mmdet.self_training.store`).

Safe to rerun (a requeued SLURM job, a restarted study): chunks already
written are skipped, so rerunning the same command after a kill finishes the
store; on a finished store it does nothing and exits 0 when the teacher
checkpoint, config (model and test pipeline), source and score floor are
those recorded in the store's meta, and refuses (exit 1) naming each
difference when they are not.

Without ``--img-root``, the ``file_name`` of an image-only COCO JSON
``ROOT/annotations/PREFIX_SPLIT.json`` is looked for under ``ROOT/SPLIT/``
(mmdet's COCO layout: ``image_info_unlabeled2017.json`` ->
``unlabeled2017/``; the built-in shapes dataset's
``image_info_unlabeled.json`` -> ``unlabeled/``), then ``ROOT/``, then the
JSON's directory; paths of a text list are relative to its directory.

A teacher config of MMSegmentation (``default_scope='mmseg'``) is run by
:func:`rethink_mmdet.seg.labeler.label_seg_images` instead (Zoph et al.
2020, Sec. 3.2): multi-scale inference (``--scales``, default 0.5..1.75,
+ horizontal flip unless ``--no-flip``), class probabilities averaged over
the views, the argmax kept where the average is >= ``--prob-thr`` (0.5) and
255 elsewhere, one label-map PNG per image in the store
(:mod:`rethink_mmdet.seg.pseudo_store`). Sources, chunks, resumption,
identity checks and launchers are the same.

Distributed like mmdet's tools::

    python tools/pseudo_label.py CONFIG CKPT --images DIR --out STORE
    tools/dist_pseudo_label.sh CONFIG CKPT 8 --images DIR --out STORE
    tools/slurm_pseudo_label.sh PART JOB CONFIG CKPT --images DIR --out STORE
"""
import gc

if __name__ == '__main__':
    gc.disable()  # during the imports: see rethink_mmdet.engine.startup_gc

import argparse
import sys

from mmengine.dist import init_dist, is_distributed
from mmengine.logging import MMLogger

import rethink_mmdet  # noqa: F401  (registers components)
from rethink_mmdet.engine import add_launch_args, end_of_startup, load_config
from rethink_mmdet.self_training.labeler import (ImageSourceError,
                                                 StoreMismatchError,
                                                 label_images)
from rethink_mmdet.self_training.teacher import is_segmentation_config

#: Options of one kind of teacher only (dest -> flag).
DET_ONLY = {'score_thr': '--score-thr'}
SEG_ONLY = {
    'scales': '--scales',
    'flip': '--no-flip',
    'prob_thr': '--prob-thr'
}
#: Zoph et al. 2020, Sec. 3: the hard score threshold of pseudo boxes and
#: (Sec. 3.2) the probability threshold of pseudo-label pixels.
DEFAULT_SCORE_THR = 0.5
DEFAULT_PROB_THR = 0.5


def parse_args():
    parser = argparse.ArgumentParser(
        description='Pseudo-label unlabeled images with a teacher detector '
        'or segmentor')
    parser.add_argument('config', help='teacher config file path')
    parser.add_argument('checkpoint', help='teacher checkpoint file')
    parser.add_argument(
        '--images',
        '--source',
        dest='images',
        required=True,
        help='image folder (recursive), text file of image paths (one per '
        'line) or image-only COCO JSON (e.g. image_info_unlabeled2017.json)')
    parser.add_argument('--out', required=True, help='store directory')
    parser.add_argument(
        '--img-root',
        default=None,
        help='root of relative paths of a list or COCO source (default: '
        'the list file\'s directory; for ROOT/annotations/PREFIX_SPLIT.json '
        'the first of ROOT/SPLIT, ROOT and ROOT/annotations that holds the '
        'first images)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=None,
        help='detection: score floor: boxes below it are not kept; the '
        'teacher\'s own test score thresholds above it are lowered to it '
        '(default 0.5)')
    parser.add_argument(
        '--scales',
        type=float,
        nargs='+',
        default=None,
        help='segmentation: inference scales relative to the test '
        'pipeline\'s (default 0.5 0.75 1 1.25 1.5 1.75, Zoph et al. 2020)')
    parser.add_argument(
        '--no-flip',
        dest='flip',
        action='store_false',
        default=None,
        help='segmentation: no horizontally flipped views')
    parser.add_argument(
        '--prob-thr',
        type=float,
        default=None,
        help='segmentation: keep a pixel\'s class where its averaged '
        'probability is >= this, 255 elsewhere (default 0.5)')
    parser.add_argument(
        '--chunk-size',
        type=int,
        default=256,
        help='images per chunk, the unit of work and resumption')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='images per forward pass (default: the config\'s '
        'test_dataloader.batch_size, as tools/test.py; else 1)')
    parser.add_argument(
        '--num-workers',
        type=int,
        default=None,
        help='image loading workers per process (default: the config\'s '
        'test_dataloader.num_workers; else 2)')
    add_launch_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args)  # gloo process group on CPU (setup_launcher)
    if args.launcher != 'none' and not is_distributed():
        init_dist(args.launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))
    MMLogger.get_instance('rethink_mmdet', log_level='INFO')
    end_of_startup()
    is_seg = is_segmentation_config(cfg)
    wrong = DET_ONLY if is_seg else SEG_ONLY
    given = [
        flag for dest, flag in wrong.items() if getattr(args, dest) is not None
    ]
    if given:
        sys.exit(f'pseudo_label.py: {", ".join(given)} only apply to a '
                 f'{"detection" if is_seg else "segmentation"} teacher; '
                 f'{args.config} is a '
                 f'{"segmentation (mmseg)" if is_seg else "detection"} '
                 'config. Remove them.')
    common = dict(
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        img_root=args.img_root)
    try:
        if is_seg:
            from rethink_mmdet.seg.labeler import (PAPER_SCALES,
                                                   label_seg_images)
            label_seg_images(
                cfg,
                args.checkpoint,
                args.images,
                args.out,
                scales=args.scales or PAPER_SCALES,
                flip=args.flip is not False,
                prob_thr=(DEFAULT_PROB_THR
                          if args.prob_thr is None else args.prob_thr),
                **common)
        else:
            label_images(
                cfg,
                args.checkpoint,
                args.images,
                args.out,
                score_thr=(DEFAULT_SCORE_THR
                           if args.score_thr is None else args.score_thr),
                **common)
    except (StoreMismatchError, ImageSourceError) as e:
        sys.exit(f'pseudo_label.py: {e}')  # exit status 1, no traceback


if __name__ == '__main__':
    main()
