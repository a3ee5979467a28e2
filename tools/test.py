"""Test (and evaluate) a detector: mmdet's ``tools/test.py`` arguments.

Checkpoints load with ``weights_only=True`` on torch >= 2.6 (see
:mod:`rethink_mmdet.engine.checkpoint_safety`); distributed runs work without
CUDA (gloo).
"""
import gc

if __name__ == '__main__':
    gc.disable()  # during the imports: see rethink_mmdet.engine.startup_gc

import argparse
import os.path as osp

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import rethink_mmdet  # noqa: F401  (registers components)
from rethink_mmdet.engine import add_launch_args, end_of_startup, load_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='MMDet test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true')
    add_launch_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError('--tta needs `tta_model` and `tta_pipeline` in '
                             'the config (see mmdet configs/*/*_tta.py).')
        cfg.model = dict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline

    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=osp.abspath(args.out)))
    end_of_startup()
    runner.test()


if __name__ == '__main__':
    main()
