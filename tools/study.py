"""Run a study (a grid of arms x seeds), ask its status, write its report.

    python tools/study.py STUDY_CONFIG --work-dir DIR \\
        [--launcher none|pytorch|slurm] [--gpus N] [--partition P] \\
        [--gpus-per-node G] [--cpus-per-task C] [--jobs N] [--dry-run]
        [--no-report]
    python tools/study.py status DIR
    python tools/study.py report DIR

Local runs (``none``: tools/train.py, ``pytorch``: tools/dist_train.sh)
go one after another (``--jobs N``: N independent runs at a time, each
with cores / N threads) and the report is written at the end; with
``slurm`` every run is its own ``sbatch`` job (tools/slurm_train.sbatch,
requeued on preemption) and the command returns; ``status`` follows the
jobs and ``report`` reads what they wrote. Rerunning the command resumes
an interrupted study. See :mod:`rethink_mmdet.study` and
configs/studies/.
"""
import argparse
import sys

from rethink_mmdet.self_training.stages import add_stage_launch_args
from rethink_mmdet.study import (Launcher, StudyConfigError, format_status,
                                 run_study, study_status, write_report)

COMMANDS = ('status', 'report')


def parse_run_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog='Other commands: tools/study.py status DIR, '
        'tools/study.py report DIR.')
    parser.add_argument('config', help='study config file')
    parser.add_argument(
        '--work-dir',
        required=True,
        help='study directory (state, runs, report)')
    add_stage_launch_args(parser, 'run')
    parser.add_argument(
        '--gpus-per-node',
        type=int,
        default=None,
        help='SLURM: GPUs per node (0: CPU nodes, gloo); '
        'default min(gpus, 8)')
    parser.add_argument('--cpus-per-task', type=int, default=5)
    parser.add_argument(
        '--sbatch-args',
        nargs='*',
        default=[],
        help='extra sbatch arguments, e.g. --time=72:00:00')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='local runs at a time (--launcher none), each with '
        'cores / N threads; a run waits for the runs it needs')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print the commands, run nothing')
    parser.add_argument(
        '--no-report',
        action='store_true',
        help='do not write the report at the end')
    return parser.parse_args(argv)


def print_status(records):
    """Print the runs' table and the count per status; returns the
    counts."""
    table, counts = format_status(records)
    print(table)
    print(', '.join(f'{n} {s}' for s, n in sorted(counts.items())))
    return counts


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in COMMANDS:
            parser = argparse.ArgumentParser(prog=f'study.py {argv[0]}')
            parser.add_argument('dir', help='study directory')
            args = parser.parse_args(argv[1:])
            if argv[0] == 'report':
                write_report(args.dir)
                return 0
            print_status(study_status(args.dir))
            return 0
        args = parse_run_args(argv)
        launcher = Launcher(
            launcher=args.launcher,
            gpus=args.gpus,
            partition=args.partition,
            gpus_per_node=args.gpus_per_node,
            cpus_per_task=args.cpus_per_task,
            sbatch_args=args.sbatch_args)
        state = run_study(
            args.config,
            args.work_dir,
            launcher,
            dry_run=args.dry_run,
            jobs=args.jobs)
    except (StudyConfigError, FileNotFoundError) as e:
        print(f'study.py: error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            'study.py: interrupted; rerun the same command to resume',
            file=sys.stderr)
        return 130
    if args.dry_run:
        return 0
    counts = print_status(state.ordered())
    if args.launcher != 'slurm' and not args.no_report:
        write_report(args.work_dir, jobs=args.jobs)
    elif args.launcher == 'slurm':
        print(f'The SLURM jobs run on their own: follow them with '
              f'tools/study.py status {args.work_dir}, then write the report '
              f'with tools/study.py report {args.work_dir}')
    return 1 if counts.get('failed') else 0


if __name__ == '__main__':
    sys.exit(main())
