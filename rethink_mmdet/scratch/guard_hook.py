# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""ScratchGuardHook: stop a "from scratch" run that is not (He et al. 2019).

The rules and where the paper states them are in :mod:`.guard`; the
initialization that goes with them is :class:`.init_hook.ScratchInitHook`.
"""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from rethink_mmdet.engine.runner_state import (is_training_run, load_from,
                                               resume_checkpoint,
                                               resume_requested)
from .guard import ScratchTrainingError, find_scratch_problems

__all__ = ['ScratchGuardHook']


@HOOKS.register_module()
class ScratchGuardHook(Hook):
    """Refuse to train unless every parameter trains from random init.

    Runner event: ``before_run`` of :meth:`Runner.train` only -- after the
    model, loops and optimizer are built and before mmengine initializes the
    weights (``_init_model_weights``, which would fetch a ``Pretrained``
    checkpoint) and loads or resumes a checkpoint (``load_or_resume``), so a
    bad config fails in seconds. ``Runner.val``/``Runner.test`` also call
    ``before_run``; there the hook does nothing (testing a trained
    checkpoint with ``load_from`` is fine). ``before_train`` refuses to
    train if ``before_run`` did not check, so the hook cannot switch itself
    off silently.

    It collects every problem :func:`find_scratch_problems` finds -- frozen
    stages (``frozen_stages >= 0``), ``norm_eval=True``, norm layers in eval
    mode after ``model.train()`` or with frozen affine parameters, any other
    parameter with ``requires_grad=False``, a ``Pretrained`` ``init_cfg`` or
    ``pretrained=`` key, ``load_from`` without ``resume`` -- and raises one
    :class:`ScratchTrainingError` that names each offending module and its
    fix. ``resume=True`` (auto-resume, or resuming the checkpoint in
    ``load_from``) is allowed.

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
        problems = find_scratch_problems(
            model,
            model_cfg=runner.cfg.get('model'),
            load_from=load_from(runner),
            resume=resume_requested(runner),
            allow_frozen=self.allow_frozen)
        if problems:
            raise ScratchTrainingError(problems)
        resumed = resume_checkpoint(runner)
        runner.logger.info(
            'ScratchGuardHook: training from scratch (He et al. 2019) -- no '
            'frozen parameter or stage, no norm in eval mode, no pre-trained '
            'weights' +
            (f'; resuming this run from {resumed}' if resumed else '') + '.')

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
