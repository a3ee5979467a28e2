"""Iterative self-training as resumable stages (Zoph et al. 2020, Sec. 3).

Zoph et al.'s self-training has three steps: (1) train a teacher on the
labeled data, (2) pseudo-label the unlabeled images with it, (3) train a
student on human + pseudo labels jointly. For ``K > 1`` rounds the student
of round ``r`` becomes the teacher of round ``r + 1``. Each student starts
from its teacher's final weights (Sec. 3.2, App. C; ``student_init``, see
:mod:`.student_init`: ``'teacher'`` by default, ``'random'`` or a
checkpoint path).

:func:`run_self_training` runs that as :class:`~.stages.Stage` commands, each
an ordinary tool of this package (``tools/train.py``, ``tools/test.py``,
``tools/pseudo_label.py``, or their ``dist_`` / ``slurm_`` launchers), each
with a completion marker on disk, so that rerunning the same command skips
finished stages and resumes an interrupted one (the labeler skips finished
chunks; training resumes from its last checkpoint with ``--resume``).

Layout of ``WORK_DIR``::

    teacher/                     the round-1 teacher's training (if no
                                 --teacher-checkpoint was given)
    round{r}/labels/             pseudo-label store of round r
    round{r}/student_config.py   the student config as trained (its store,
                                 and load_from the next file)
    round{r}/student_init.pth    the student's start weights: the
                                 teacher's (or student_init's checkpoint)
                                 without loss_norm.* (not with 'random')
    round{r}/student/            the student's training work dir
    round1/eval_teacher/         tools/test.py of the round-1 teacher
                                 (later teachers are the previous round's
                                 evaluated student)
    round{r}/eval_student/       tools/test.py of the round's student
    rounds.json                  per round: teacher, store, student and
                                 their metrics

An evaluation stage whose training validated on the test split with the
test metric right after its checkpoint's iteration reuses those metrics
(recorded in its ``stage_done.json``) instead of running ``tools/test.py``
again (:mod:`.final_validation`).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config

from .stages import (DONE_MARKER, Launch, SelfTrainingError, Stage, evaluate,
                     final_checkpoint, mark_done, run_stage, train_stage)
from .student_init import (STUDENT_INIT_FILE, StudentInitError,
                           apply_student_init, init_source,
                           prepare_student_init, student_init_value)
from .teacher import is_segmentation_config

#: Dataset types whose ``store`` the student's config gets pointed at: the
#: detection store's (mmdet) and the segmentation store's (mmseg,
#: :mod:`rethink_mmdet.seg`), with or without a registry scope prefix.
PSEUDO_DATASET_TYPES = ('PseudoLabelDataset', 'PseudoSegDataset')
#: The per-round record file.
ROUNDS_FILE = 'rounds.json'


def point_at_store(cfg: Config, store: str) -> int:
    """Set ``store`` of every pseudo-label dataset
    (:data:`PSEUDO_DATASET_TYPES`) in ``cfg``'s
    ``train_dataloader`` (at any depth: a ``MultiSourceDataset``'s sources,
    a ``ConcatDataset``, a ``RepeatDataset``...).

    Returns:
        int: How many datasets were pointed at ``store``.

    Raises:
        SelfTrainingError: if the student config has no such dataset.
    """
    found = 0

    def visit(node):
        nonlocal found
        if isinstance(node, dict):
            kind = node.get('type')
            if isinstance(kind, str) and kind.rsplit(
                    '.', 1)[-1] in PSEUDO_DATASET_TYPES:
                node['store'] = store
                found += 1
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.get('train_dataloader', {}))
    if not found:
        raise SelfTrainingError(
            f'{cfg.filename}: train_dataloader has no '
            f'{" or ".join(PSEUDO_DATASET_TYPES)}: '
            'the student would train on human labels only. Add a pseudo '
            "source (see configs/rethinking-self-training/) whose store "
            'tools/self_train.py can set.')
    return found


def load_student_config(student_config: str,
                        store: Optional[str] = None,
                        cfg_options: Optional[dict] = None) -> Config:
    """``student_config`` with ``cfg_options`` merged, pointed at the
    pseudo-label ``store`` when one is given."""
    cfg = Config.fromfile(student_config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if store is not None:
        point_at_store(cfg, osp.abspath(store))
    return cfg


def write_student_config(student_config: str,
                         store: str,
                         out: str,
                         cfg_options: Optional[dict] = None,
                         student_init: Optional[str] = None,
                         init_checkpoint: Optional[str] = None) -> str:
    """Dump ``student_config`` (with ``cfg_options`` merged) pointed at the
    pseudo-label ``store`` to ``out``, starting from ``init_checkpoint``
    (``load_from`` with ``resume = False``; None: the config's own init);
    returns ``out``.

    Args:
        student_config (str): The student config.
        store (str): The round's pseudo-label store.
        out (str): Where the config is written.
        cfg_options (dict, optional): Merged into the config. Defaults to
            None.
        student_init (str, optional): The ``student_init`` value recorded
            in the config (``--student-init``). Defaults to None: the
            config's own, else ``'teacher'``.
        init_checkpoint (str, optional): The prepared start weights
            (:func:`~.student_init.prepare_student_init`). Defaults to None.
    """
    cfg = load_student_config(student_config, store, cfg_options)
    try:
        apply_student_init(cfg, student_init_value(cfg, student_init),
                           init_checkpoint)
    except StudentInitError as err:
        raise SelfTrainingError(f'{student_config}: {err}') from None
    os.makedirs(osp.dirname(out), exist_ok=True)
    cfg.dump(out)
    return out


def _prepare_init(student_config, store, cfg_options, source, out, init, name,
                  log) -> None:
    """Write a student's start weights (:func:`~.student_init.\
prepare_student_init`) or raise :class:`SelfTrainingError`."""
    cfg = load_student_config(student_config, store, cfg_options)
    try:
        prepare_student_init(cfg, source, out, init)
    except StudentInitError as err:
        raise SelfTrainingError(f'[{name}] {err}') from None
    log(f'[{name}] start weights written: {out}')


def run_self_training(student_config: str,
                      work_dir: str,
                      unlabeled: str,
                      teacher_config: str,
                      teacher_checkpoint: Optional[str] = None,
                      rounds: int = 1,
                      score_thr: float = 0.5,
                      img_root: Optional[str] = None,
                      launch: Optional[Launch] = None,
                      cfg_options: Optional[dict] = None,
                      student_init: Optional[str] = None,
                      dry_run: bool = False,
                      log=print) -> List[dict]:
    """Teacher -> pseudo labels -> student, ``rounds`` times; the student of
    a round is the teacher of the next (Zoph et al. 2020, Sec. 3).

    Args:
        student_config (str): Student config whose train data has a
            ``PseudoLabelDataset`` (its ``store`` is set per round).
        work_dir (str): Directory of all stages (see module docstring).
        unlabeled (str): Image folder, list file or image-only COCO JSON.
        teacher_config (str): Config of the round-1 teacher.
        teacher_checkpoint (str, optional): Its checkpoint; when None the
            teacher is trained first from ``teacher_config``. Defaults to
            None.
        rounds (int): Self-training rounds K. Defaults to 1.
        score_thr (float): Labeler score floor (the student's
            ``score_thr`` may be higher); for a segmentation teacher
            (MMSegmentation config) the probability threshold of its label
            maps (``--prob-thr``, Sec. 3.2). Defaults to 0.5.
        img_root (str, optional): ``--img-root`` of the labeler.
            Defaults to None.
        launch (Launch, optional): How stages start. Defaults to one
            process.
        cfg_options (dict, optional): Merged into the student config.
            Defaults to None.
        student_init (str, optional): Where each student starts:
            ``'teacher'`` (its round's teacher's final weights, Zoph et al.
            2020 Sec. 3.2), ``'random'`` (App. C) or a checkpoint path (see
            :mod:`.student_init`). Defaults to None: the student config's
            top-level ``student_init``, else ``'teacher'``.
        dry_run (bool): Print the commands only. Defaults to False.
        log (callable): Where progress lines go. Defaults to print.

    Returns:
        list[dict]: The records written to ``WORK_DIR/rounds.json``.
    """
    if rounds < 1:
        raise SelfTrainingError(f'rounds={rounds}: need at least 1.')
    launch = launch or Launch()
    work_dir = osp.abspath(work_dir)
    # Checked before any stage runs: a bad switch fails in seconds, not
    # after the teacher has trained.
    try:
        cfg = load_student_config(student_config, cfg_options=cfg_options)
        init = student_init_value(cfg, student_init)
        apply_student_init(cfg, init, None)  # refuses a load_from of its own
    except StudentInitError as err:
        raise SelfTrainingError(f'{student_config}: {err}') from None
    # a segmentation teacher's threshold is on its averaged class
    # probabilities (Sec. 3.2), a detector's on its box scores (Sec. 3)
    thr_flag = ('--prob-thr' if is_segmentation_config(
        Config.fromfile(teacher_config)) else '--score-thr')
    records: List[dict] = []
    if teacher_checkpoint is None:
        tdir = osp.join(work_dir, 'teacher')
        stage = train_stage('teacher', teacher_config, tdir, launch)
        run_stage(stage, dry_run, log)
        teacher_checkpoint = '<teacher checkpoint>'
        if not dry_run:
            mark_done(stage)
            teacher_checkpoint = final_checkpoint(tdir)
    for r in range(1, rounds + 1):
        rdir = osp.join(work_dir, f'round{r}')
        store = osp.join(rdir, 'labels')
        args = [
            teacher_config, teacher_checkpoint, '--images', unlabeled, '--out',
            store, thr_flag,
            str(score_thr)
        ]
        if img_root:
            args += ['--img-root', img_root]
        env: Dict[str, str] = {}
        labels = Stage(
            f'round{r}/labels',
            launch.command('pseudo_label', args, env, f'round{r}_labels'),
            osp.join(store, 'meta.json'), env)
        run_stage(labels, dry_run, log)
        if r == 1:
            teacher_metrics = evaluate('round1/eval_teacher', teacher_config,
                                       teacher_checkpoint,
                                       osp.join(rdir, 'eval_teacher'), launch,
                                       dry_run, log)
        else:  # the previous round's student, evaluated already
            teacher_metrics = records[-1]['student_metrics'] if records \
                else {}
        cfg_file = osp.join(rdir, 'student_config.py')
        sdir = osp.join(rdir, 'student')
        source = init_source(init, teacher_checkpoint)
        init_file = osp.join(rdir, STUDENT_INIT_FILE) if source else None
        fresh = not osp.isfile(osp.join(sdir, 'last_checkpoint'))
        # A finished student keeps the config it was trained with (a later
        # edit of the student config does not rewrite that record).
        if not osp.exists(osp.join(sdir, DONE_MARKER)):
            log(f'[round{r}/student_init] student_init={init!r}: ' +
                (f'starts from {source} (load_from {init_file}: weights '
                 'only, loss normalization fresh)'
                 if source else "starts from the student config's own init") +
                ('' if fresh else '; resumes its own checkpoint now'))
            if not dry_run:
                if init_file and fresh:  # (--resume drops load_from)
                    _prepare_init(student_config, store, cfg_options, source,
                                  init_file, init, f'round{r}/student_init',
                                  log)
                write_student_config(student_config, store, cfg_file,
                                     cfg_options, init, init_file)
        student = train_stage(f'round{r}/student', cfg_file, sdir, launch)
        run_stage(student, dry_run, log)
        ckpt = f'<round{r} student checkpoint>'
        if not dry_run:
            mark_done(student)
            ckpt = final_checkpoint(sdir)
        student_metrics = evaluate(f'round{r}/eval_student', cfg_file, ckpt,
                                   osp.join(rdir, 'eval_student'), launch,
                                   dry_run, log)
        if not dry_run:
            records.append(
                dict(
                    round=r,
                    teacher_config=teacher_config,
                    teacher_checkpoint=teacher_checkpoint,
                    teacher_metrics=teacher_metrics,
                    store=store,
                    student_init=init,
                    student_init_checkpoint=init_file,
                    student_config=cfg_file,
                    student_checkpoint=ckpt,
                    student_metrics=student_metrics))
            tmp = osp.join(work_dir, ROUNDS_FILE + '.tmp')
            with open(tmp, 'w') as f:
                json.dump(records, f, indent=1)
            os.replace(tmp, osp.join(work_dir, ROUNDS_FILE))
        teacher_config, teacher_checkpoint = cfg_file, ckpt
    return records
