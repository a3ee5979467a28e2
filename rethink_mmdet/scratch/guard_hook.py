# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""ScratchGuardHook: stop a "from scratch" run that is not (He et al. 2019).

The rules and where the paper states them are in :mod:`.guard`; the
initialization that goes with them is :class:`.init_hook.ScratchInitHook`.

Resume cannot bring pre-trained weights in. Our He et al.
runtimes set ``resume = True`` (auto-resume), and with ``resume=True``
mmengine *resumes from* ``load_from`` when one is set: ``--cfg-options
load_from=pretrained.pth`` would start a "from scratch" run from those
weights. So the hook accepts a resumed checkpoint only if this guard
wrote it: every checkpoint of a guarded run carries
``meta['scratch_guard']`` (:data:`SCRATCH_META_KEY`) with the model's
parameter fingerprint, and a resume is allowed only from a checkpoint
carrying it with this model's fingerprint. A chain of guarded runs is then
from scratch throughout: the first run passed every check from random
init, and each resume started from a checkpoint of such a run. The rule
does not look at the path: a checkpoint copied into ``work_dir`` proves
nothing, and a run's own checkpoint stays valid when its work dir moves.

A scratch lineage stays scratch (Zoph et al. 2020, Sec. 3.2: the
self-training student starts from its teacher's weights). ``load_from``
without resume -- a fresh run that starts from a checkpoint's weights -- is
accepted when the checkpoint's mark proves that a guarded from-scratch run
of the same *detector* wrote it: the mark also holds the fingerprint of the
inner detector (:func:`~.init_hook.inner_detector`: a
``SelfTrainingDetector`` student's ``detector``, whose ``state_dict`` keys
are the plain detector's), so a student may load its plain teacher's
checkpoint, and a round-2 student the round-1 student's (a student
teacher). Anything else (an ImageNet or COCO checkpoint, a file without the
mark, another model's) is refused as before.
"""
import hashlib
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmdet.registry import HOOKS
from rethink_mmdet.engine.checkpoint_safety import load_local_checkpoint
from rethink_mmdet.engine.runner_state import (is_training_run, load_from,
                                               resume_checkpoint,
                                               resume_requested)
from .guard import ScratchProblem, ScratchTrainingError, find_scratch_problems
from .init_hook import inner_detector

__all__ = [
    'SCRATCH_META_KEY', 'ScratchGuardHook', 'model_fingerprint',
    'read_checkpoint_meta'
]

#: ``checkpoint['meta']`` key written by :class:`ScratchGuardHook`:
#: ``dict(model=<class name>, fingerprint=<sha256 of parameter names and
#: shapes>, detector=<inner detector class>, detector_fingerprint=<its
#: sha256>)`` (the last two equal the first two for a plain detector;
#: marks written before they existed lack them).
SCRATCH_META_KEY = 'scratch_guard'


def model_fingerprint(model: nn.Module) -> str:
    """sha256 of the names and shapes of ``model``'s state dict: the same
    config builds the same fingerprint, another architecture another."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(f'{name}:{tuple(value.shape)};'.encode())
    return digest.hexdigest()


def read_checkpoint_meta(path: str) -> dict:
    """``meta`` of a local checkpoint file, without reading its tensors
    into memory where the file allows (zip format: ``mmap=True``).

    Args:
        path (str): A local checkpoint path.

    Returns:
        dict: Its ``meta`` (empty if it has none).

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        UntrustedCheckpointError: If it holds objects outside the
            checkpoint allow-list (see :mod:`rethink_mmdet.engine.\
checkpoint_safety`).
    """
    try:
        ckpt = torch.load(
            path, map_location='cpu', mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001  (not zip, untrusted, missing...)
        ckpt = load_local_checkpoint(path, map_location='cpu')
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    return meta if isinstance(meta, dict) else {}


@HOOKS.register_module()
class ScratchGuardHook(Hook):
    """Refuse to train unless every parameter trains from random init.

    Runner events: ``before_run`` of :meth:`Runner.train` only -- after the
    model, loops and optimizer are built and before mmengine initializes the
    weights (``_init_model_weights``, which would fetch a ``Pretrained``
    checkpoint) and loads or resumes a checkpoint (``load_or_resume``), so a
    bad config fails in seconds. ``Runner.val``/``Runner.test`` also call
    ``before_run``; there the hook does nothing (testing a trained
    checkpoint with ``load_from`` is fine). ``before_train`` refuses to
    train if ``before_run`` did not check, so the hook cannot switch itself
    off silently. ``before_save_checkpoint`` marks the run's checkpoints.

    It collects every problem :func:`find_scratch_problems` finds -- frozen
    stages (``frozen_stages >= 0``), ``norm_eval=True``, norm layers in eval
    mode after ``model.train()`` or with frozen affine parameters, any other
    parameter with ``requires_grad=False``, a ``Pretrained`` ``init_cfg`` or
    ``pretrained=`` key, ``load_from`` without ``resume`` (except from a
    from-scratch checkpoint of the same detector, below), a resume from a
    checkpoint that no guarded run of this model wrote -- and raises one
    :class:`ScratchTrainingError` that names each offending module and its
    fix. ``resume=True`` (auto-resume from ``work_dir``, or resuming the
    checkpoint in ``load_from``) is allowed from this guard's own
    checkpoints only: ``before_save_checkpoint`` marks every checkpoint of
    the run with ``meta['scratch_guard']`` (see the module docstring).
    ``load_from`` without ``resume`` is allowed from a checkpoint whose mark
    has this model's inner detector fingerprint (a self-training student
    starting from its teacher, Zoph et al. 2020 Sec. 3.2): a fresh run from
    a from-scratch lineage of the same detector.

    Usage::

        custom_hooks = [dict(type='ScratchGuardHook'),
                        dict(type='ScratchInitHook')]

    Args:
        allow_frozen (Sequence[str]): ``fnmatch`` patterns of parameter names
            that are frozen by design and must not be reported, e.g.
            ``['roi_head.*.fixed_prior']``. Defaults to ().
    """

    # Before every other hook's before_run (e.g. EMAHook copying the model).
    priority = 'VERY_HIGH'

    def __init__(self, allow_frozen: Sequence[str] = ()):
        if isinstance(allow_frozen, str):
            allow_frozen = [allow_frozen]
        self.allow_frozen = tuple(allow_frozen)
        self._checked = False
        self._fingerprint = None
        self._detector = None
        self._detector_fingerprint = None

    def before_run(self, runner) -> None:
        """Check the model and the checkpoint settings of a training run.

        Args:
            runner (Runner): The runner of the training process.

        Raises:
            ScratchTrainingError: With every problem found.
        """
        if not is_training_run(runner):  # Runner.val()/test()
            return
        self._checked = True
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._fingerprint = model_fingerprint(model)
        detector = inner_detector(model)
        self._detector = type(detector).__name__
        self._detector_fingerprint = model_fingerprint(detector)
        loaded, resume = load_from(runner), resume_requested(runner)
        # load_from without resume: the weights of a from-scratch run of
        # this detector (a student's teacher) are allowed, anything else is
        # reported by find_scratch_problems below.
        refused = loaded and not resume and self._mark_problem(
            loaded, (self._fingerprint, self._detector_fingerprint),
            'detector_fingerprint', f'{self._detector} detector')
        problems = find_scratch_problems(
            model,
            model_cfg=runner.cfg.get('model'),
            load_from=loaded if refused else None,
            resume=resume,
            allow_frozen=self.allow_frozen)
        if refused:
            problems = [
                self._load_problem(p, refused)
                if p.module == 'load_from' else p for p in problems
            ]
        resumed = resume_checkpoint(runner)
        if resumed:
            problem = self._resume_problem(resumed, type(model).__name__)
            if problem is not None:
                problems.append(problem)
        if problems:
            raise ScratchTrainingError(problems)
        if loaded and not resume:
            start = (f'; starting from {loaded}, a checkpoint of a guarded '
                     f'from-scratch run of this {self._detector} detector '
                     "(e.g. a self-training student's teacher)")
        else:
            start = f'; resuming this run from {resumed}' if resumed else ''
        runner.logger.info(
            'ScratchGuardHook: training from scratch (He et al. 2019) -- no '
            'frozen parameter or stage, no norm in eval mode, no pre-trained '
            'weights' + start + '.')

    @staticmethod
    def _mark_problem(path: str, accepted: Sequence[str], key: str,
                      what: str) -> Optional[str]:
        """Why ``path``'s mark does not prove a from-scratch run whose
        ``key`` fingerprint (``'fingerprint'``: the whole model,
        ``'detector_fingerprint'``: its inner detector) is ``accepted``, or
        None. A mark of either kind counts: an older mark without
        ``detector_fingerprint`` holds the model's, which for a plain
        detector is its detector's."""
        try:
            marker = read_checkpoint_meta(path).get(SCRATCH_META_KEY)
        except Exception as err:  # noqa: BLE001  (the reason is reported)
            return f'it cannot be read as a local checkpoint ({err!r})'
        if not isinstance(marker, dict):
            return ('it was not written by a from-scratch run guarded '
                    f"by ScratchGuardHook (no meta['{SCRATCH_META_KEY}'])"
                    ', so it may hold pre-trained weights')
        marked = {marker.get(key), marker.get('fingerprint')} - {None}
        if marked & set(accepted):
            return None
        return ('it was written by a guarded run of another model '
                f"({marker.get('model')}, other parameters than this "
                f'{what})')

    @staticmethod
    def _load_problem(problem: ScratchProblem, why: str) -> ScratchProblem:
        """:func:`find_scratch_problems`' ``load_from`` problem, with why
        the checkpoint's mark did not allow it."""
        return ScratchProblem(
            problem.module, f'{problem.problem}, and {why}',
            problem.fix + ' A fresh run may start from the checkpoint of a '
            'guarded from-scratch run of the same detector (its mark '
            f"meta['{SCRATCH_META_KEY}']), e.g. a self-training student "
            'from its teacher.', problem.module_type)

    def _resume_problem(self, path: str,
                        model_type: str) -> Optional[ScratchProblem]:
        """Why resuming ``path`` would not continue a from-scratch run of
        this model, or None."""
        why = self._mark_problem(path, (self._fingerprint, ), 'fingerprint',
                                 model_type)
        if why is None:
            return None
        return ScratchProblem(
            'load_from', f'resume=True resumes from {path!r} (mmengine '
            'resumes from load_from when it is set), but ' + why,
            'Set load_from=None: with resume=True the run then continues '
            'from its own work_dir/last_checkpoint (or starts from random '
            'init), or point load_from at a checkpoint this scratch run '
            'wrote. To start a fresh run from a from-scratch checkpoint of '
            'the same detector (a self-training student from its teacher), '
            'set resume=False (tools/self_train.py does). To fine-tune '
            'pre-trained weights on purpose, use the ImageNet config of the '
            'pair (no ScratchGuardHook).')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Mark a checkpoint of this guarded run as from scratch
        (``checkpoint['meta']['scratch_guard']``), so that resuming it
        passes :meth:`before_run`.

        Args:
            runner (Runner): The runner of the training process.
            checkpoint (dict): The checkpoint being saved.
        """
        if not self._checked:  # not a guarded training run: no mark
            return
        checkpoint.setdefault('meta', {})[SCRATCH_META_KEY] = dict(
            model=type(
                runner.model.module
                if is_model_wrapper(runner.model) else runner.model).__name__,
            fingerprint=self._fingerprint,
            detector=self._detector,
            detector_fingerprint=self._detector_fingerprint)

    def before_train(self, runner) -> None:
        """Refuse to train if :meth:`before_run` did not check (it cannot
        switch itself off silently, e.g. on an mmengine that builds the
        train loop later).

        Args:
            runner (Runner): The runner of the training process.

        Raises:
            RuntimeError: If the check did not run.
        """
        if not self._checked:
            raise RuntimeError(
                'ScratchGuardHook: training started but before_run did not '
                'recognise a training run (rethink_mmdet.engine.runner_state.'
                'is_training_run), so the scratch checks did not run. This '
                'mmengine is outside the tested range; see '
                'rethink_mmdet/engine/runner_state.py.')
