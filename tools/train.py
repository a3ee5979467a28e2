"""Train a detector: mmdet's ``tools/train.py`` with the same arguments.

Adds, through :mod:`rethink_mmdet.engine.launch`, distributed runs on
machines without CUDA (gloo), and imports :mod:`rethink_mmdet` so that its
components and safe checkpoint loading are active for any config.
"""
import gc
import signal

if __name__ == '__main__':
    gc.disable()  # during the imports: see rethink_mmdet.engine.startup_gc

    def hold(signum, frame):
        """A preemption signal during the imports, held until the config
        says whether the run is preemptible (replay_held_signals)."""
        hold.held.append(signum)

    hold.held = []
    for _sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(_sig, hold)

import argparse

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import rethink_mmdet  # noqa: F401  (registers components)
from rethink_mmdet.engine import add_launch_args, end_of_startup, load_config
from rethink_mmdet.engine.signals import replay_held_signals


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    add_launch_args(parser)
    return parser.parse_args()


def main(hold=None):
    args = parse_args()
    cfg = load_config(args)  # start-up handlers for a preemptible config
    if hold is not None:  # exit 75 if preemptible, else the default action
        replay_held_signals(hold.held, hold)

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        scale = cfg.get('auto_scale_lr', {})
        if 'enable' not in scale or 'base_batch_size' not in scale:
            raise RuntimeError(
                'Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                '"auto_scale_lr.base_batch_size" in your configuration file.')
        cfg.auto_scale_lr.enable = True

    # resume is determined in this priority: resume from > auto_resume
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    end_of_startup()
    runner.train()


if __name__ == '__main__':
    main(hold)
