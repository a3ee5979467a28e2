"""Iterative self-training (Zoph et al. 2020): teacher -> pseudo labels ->
student, K rounds, each stage resumable.

    python tools/self_train.py STUDENT_CONFIG --teacher-config T \\
        [--teacher-checkpoint CKPT] --unlabeled SOURCE [--rounds K] \\
        --work-dir DIR [--score-thr 0.5] [--img-root R] \\
        [--launcher none|pytorch|slurm] [--gpus N] [--partition P] \\
        [--student-init teacher|random|CKPT] [--dry-run] \
        [--cfg-options k=v ...]

Without ``--teacher-checkpoint`` the teacher is trained first. Each student
starts from its round's teacher's final weights (Zoph et al. 2020, Sec. 3.2;
``--student-init random`` is App. C's comparison); the student config's
top-level ``student_init`` key gives the default of ``--student-init`` (see
:mod:`rethink_mmdet.self_training.student_init`). Rerunning the same command
skips finished stages and resumes an interrupted one. Each round's teacher
and student metrics go into ``DIR/rounds.json``; see
:mod:`rethink_mmdet.self_training.rounds`.
"""
import argparse

from mmengine.config import DictAction

from rethink_mmdet.self_training.rounds import run_self_training
from rethink_mmdet.self_training.stages import Launch, add_stage_launch_args


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='student config')
    parser.add_argument('--teacher-config', required=True)
    parser.add_argument(
        '--teacher-checkpoint',
        default=None,
        help='default: train the teacher first')
    parser.add_argument(
        '--unlabeled',
        required=True,
        help='image folder, list file or image-only COCO '
        'JSON')
    parser.add_argument('--img-root', default=None)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.5,
        help='labeler score floor (default 0.5); for a segmentation '
        'teacher (MMSegmentation config) the probability threshold of its '
        'label maps (Zoph et al. 2020, Sec. 3.2)')
    parser.add_argument(
        '--student-init',
        default=None,
        help="where each student starts: 'teacher' (its teacher's final "
        "weights, Zoph et al. 2020 Sec. 3.2), 'random' (App. C) or a "
        "checkpoint path; default: the student config's student_init, "
        "else 'teacher'")
    add_stage_launch_args(parser, 'stage')
    parser.add_argument(
        '--dry-run', action='store_true', help='print the stage commands only')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='merged into the student config')
    return parser.parse_args()


def main():
    args = parse_args()
    run_self_training(
        args.config,
        args.work_dir,
        args.unlabeled,
        args.teacher_config,
        teacher_checkpoint=args.teacher_checkpoint,
        rounds=args.rounds,
        score_thr=args.score_thr,
        img_root=args.img_root,
        launch=Launch(args.launcher, args.gpus, args.partition),
        cfg_options=args.cfg_options,
        student_init=args.student_init,
        dry_run=args.dry_run)


if __name__ == '__main__':
    main()
