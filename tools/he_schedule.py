"""Print the He et al. 2019 Nx schedule, or write its config fragments.

Examples::

    python tools/he_schedule.py --multiple 9 --batch-size 64
    python tools/he_schedule.py --multiple 6 --fragment
    python tools/he_schedule.py --write-fragments configs/_base_/schedules

See :mod:`rethink_mmdet.scratch.schedule` for the rule and its sources.
"""
import argparse
import pprint

from rethink_mmdet.scratch.schedule import (DETECTRON_WARMUP_FACTOR,
                                            DETECTRON_WARMUP_ITERS,
                                            HE_BASE_BATCH, HE_BASE_LR,
                                            he_schedule)
from rethink_mmdet.scratch.schedule_fragments import (he_schedule_fragment,
                                                      write_fragments)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='He et al. 2019 Nx schedule (N*90k iterations at batch '
        '16, LR x0.1 at the last 60k and 20k iterations).')
    parser.add_argument('--multiple', type=int, help='N of the Nx schedule')
    parser.add_argument(
        '--iters', type=int, help='length at batch 16 instead of N*90k')
    parser.add_argument('--batch-size', type=int, default=HE_BASE_BATCH)
    parser.add_argument('--base-lr', type=float, default=HE_BASE_LR)
    parser.add_argument('--gamma', type=float, default=0.1)
    parser.add_argument(
        '--warmup-iters', type=int, default=DETECTRON_WARMUP_ITERS)
    parser.add_argument(
        '--warmup-ratio', type=float, default=DETECTRON_WARMUP_FACTOR)
    parser.add_argument('--val-interval', type=int, default=None)
    parser.add_argument(
        '--fragment',
        action='store_true',
        help='print an mmengine config fragment instead of the dict')
    parser.add_argument(
        '--write-fragments',
        metavar='DIR',
        help='(re)write every configs/_base_/schedules/he_*.py into DIR')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    if args.write_fragments:
        for path in write_fragments(args.write_fragments):
            print(path)
        return
    kwargs = dict(
        iters=args.iters,
        batch_size=args.batch_size,
        base_lr=args.base_lr,
        gamma=args.gamma,
        warmup_iters=args.warmup_iters,
        warmup_ratio=args.warmup_ratio,
        val_interval=args.val_interval)
    try:
        if args.fragment:
            print(he_schedule_fragment(args.multiple, **kwargs), end='')
        else:
            pprint.pprint(
                he_schedule(args.multiple, **kwargs), sort_dicts=False)
    except (TypeError, ValueError) as e:
        parser.error(str(e))


if __name__ == '__main__':
    main()
