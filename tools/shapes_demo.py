"""The main job: a mini-replication of He et al. 2019 and Zoph et al. 2020
on the built-in shapes data, as one study, printed as the report's tables
and the paths of its plots.

    python tools/shapes_demo.py [--work-dir work_dirs/shapes_demo]
        [--jobs 2] [--data-root data/shapes] [--cls-root data/shapes_cls]
        [--study configs/studies/shapes_mini_replication.py]

Steps: the shapes detection data (train / val / unlabeled with its hidden
ground truth) and the shapes classification data (the pre-training task)
are generated where missing; ``configs/studies/shapes_mini_replication.py``
runs through the study runner (``tools/study.py``: ``--jobs`` independent
arms at a time, each single-threaded on a 2-core machine; a rerun resumes
and skips finished arms); ``WORK_DIR/report.md`` is written and its tables
printed. The arms' sizes come from the study config (its environment knobs
``MINI_*`` make a tiny version, which the test runs).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Optional

from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes import UNLABELED_GT_FILE
from rethink_mmdet.data.shapes_classification import (
    SHAPES_CLS_CLASSES, make_shapes_classification)
from rethink_mmdet.study import Launcher, run_study, write_report
from rethink_mmdet.study.report import REPORT_JSON

HERE = osp.dirname(osp.abspath(__file__))
DEFAULT_STUDY = osp.join(HERE, '..', 'configs', 'studies',
                         'shapes_mini_replication.py')
# Default split sizes and image side (the study config's header gives the
# reasons): detection train (He et al.'s data-rich split; Zoph et al.'s
# labeled sets are its first images) / val / unlabeled (ten times Zoph et
# al.'s labeled set), and the classification pre-training data.
NUM_TRAIN, NUM_VAL, NUM_UNLABELED = 3000, 200, 3000
IMAGE_SIZE = 128
NUM_CLS_TRAIN, NUM_CLS_VAL = 2000, 400
#: report.md sections printed (everything before the plots).
PLOTS_HEADING = '## Plots'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--study', default=DEFAULT_STUDY)
    parser.add_argument('--work-dir', default='work_dirs/shapes_demo')
    parser.add_argument(
        '--jobs',
        type=int,
        default=2,
        help='arms at a time (each with cores / jobs threads)')
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument('--cls-root', default='data/shapes_cls')
    parser.add_argument('--seed', type=int, default=0, help='data seed')
    parser.add_argument('--num-train', type=int, default=NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=NUM_VAL)
    parser.add_argument('--num-unlabeled', type=int, default=NUM_UNLABELED)
    parser.add_argument(
        '--image-size',
        type=int,
        default=IMAGE_SIZE,
        help='side of the detection images (the configs read it from '
        'SHAPES_IMAGE_SIZE)')
    parser.add_argument('--num-cls-train', type=int, default=NUM_CLS_TRAIN)
    parser.add_argument('--num-cls-val', type=int, default=NUM_CLS_VAL)
    return parser.parse_args(argv)


def _read(ann_file: str) -> Optional[dict]:
    if not osp.isfile(ann_file):
        return None
    with open(ann_file) as f:
        return json.load(f)


def _has_split(ann_file: str, num: int, size: int) -> bool:
    """Whether ``ann_file`` exists with ``num`` images of side ``size``."""
    ann = _read(ann_file)
    return ann is not None and len(ann['images']) == num and all(
        (im['width'], im['height']) == (size, size)
        for im in ann['images'][:1])


def _has_cls_split(ann_file: str, num: int) -> bool:
    """Whether ``ann_file`` exists with ``num`` images of the default
    (out-of-domain) classes; an older in-domain set is generated again."""
    ann = _read(ann_file)
    return (ann is not None
            and len(ann.get('data_list', [])) == num and ann.get(
                'metainfo', {}).get('classes') == list(SHAPES_CLS_CLASSES))


def ensure_data(args) -> None:
    """Generate the two datasets where their files are missing, or where
    the detection splits differ in size or image side from the arguments
    (an older ``data/shapes`` is generated again, not trained on)."""
    ann = osp.join(args.data_root, 'annotations')
    splits = (('instances_train.json', args.num_train),
              ('instances_val.json', args.num_val), (UNLABELED_GT_FILE,
                                                     args.num_unlabeled))
    if not all(
            _has_split(osp.join(ann, name), num, args.image_size)
            for name, num in splits):
        print(f'Generating the shapes dataset in {args.data_root} ...')
        make_shapes(
            args.data_root,
            args.num_train,
            args.num_val,
            args.num_unlabeled,
            seed=args.seed,
            image_size=args.image_size)
    cls_ann = osp.join(args.cls_root, 'annotations')
    if not (_has_cls_split(
            osp.join(cls_ann, 'train.json'), args.num_cls_train) and
            _has_cls_split(osp.join(cls_ann, 'val.json'), args.num_cls_val)):
        print('Generating the shapes classification dataset in '
              f'{args.cls_root} ...')
        make_shapes_classification(
            args.cls_root,
            args.num_cls_train,
            args.num_cls_val,
            seed=args.seed)


def report_tables(report_md: str) -> str:
    """The part of ``report.md`` before its plots."""
    with open(report_md, encoding='utf-8') as f:
        text = f.read()
    return text.split(PLOTS_HEADING)[0].rstrip()


def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    ensure_data(args)
    # the study config reads its data roots from the environment, and so
    # do the arms' processes
    os.environ['SHAPES_ROOT'] = osp.abspath(args.data_root)
    os.environ['SHAPES_CLS_ROOT'] = osp.abspath(args.cls_root)
    os.environ['SHAPES_IMAGE_SIZE'] = str(args.image_size)
    state = run_study(args.study, args.work_dir, Launcher(), jobs=args.jobs)
    report = write_report(args.work_dir, log=lambda line: None, jobs=args.jobs)
    print('\n' + report_tables(report) + '\n')
    print(f'Report: {report}')
    with open(osp.join(osp.dirname(report), REPORT_JSON)) as f:
        for path in json.load(f)['plots']:
            print(f'Plot: {path}')
    failed = [r['id'] for r in state.ordered() if r['status'] != 'done']
    print(f'Wall time: {time.time() - t0:.0f} s' +
          (f'; not done: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
