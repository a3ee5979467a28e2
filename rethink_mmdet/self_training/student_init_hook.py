# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""StudentInitCheckHook: a student said to start from its teacher does.

Zoph et al. 2020, Sec. 3.2 and App. C [V]: the student is initialized from
the teacher's weights. ``tools/self_train.py`` (and a study's self-training
arm) loads them, following the student config's ``student_init``
(:mod:`.student_init`). A student config started any other way
(``tools/train.py``, ``tools/dist_train.sh``, ``mim train``) loads nothing
by itself and would silently train from its config's init instead: this
hook stops that run at its start and names the fixes.
"""
from mmdet.registry import HOOKS
from rethink_mmdet.engine.load_events import LoadedCheckpointMixin
from .student_init import (RANDOM_INIT, STUDENT_INIT_KEY, TEACHER_INIT,
                           StudentInitError)

__all__ = ['StudentInitCheckHook']


@HOOKS.register_module()
class StudentInitCheckHook(LoadedCheckpointMixin):
    """Refuse to train a student whose config's ``student_init`` is
    ``'teacher'`` (or a checkpoint path) when the run loaded no checkpoint.

    Runner event: ``before_train`` (after ``load_or_resume``, so a run that
    loaded ``load_from`` or resumed passes). A config without
    ``student_init``, or with ``'random'`` (App. C's comparison), passes.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        value = runner.cfg.get(STUDENT_INIT_KEY)
        if value in (None, RANDOM_INIT) or self.loaded_checkpoint:
            return
        source = ('its teacher\'s final checkpoint'
                  if value == TEACHER_INIT else repr(value))
        raise StudentInitError(
            f'{STUDENT_INIT_KEY}={value!r}: this student should start from '
            f'{source} (Zoph et al. 2020, Sec. 3.2, App. C), but the run '
            'loaded no checkpoint: it would train from the config\'s own '
            'init. Fix: run it with tools/self_train.py (which trains or '
            'takes the teacher and loads it), or start it from the '
            'teacher\'s checkpoint with --cfg-options load_from=TEACHER.pth '
            f'resume=False, or set {STUDENT_INIT_KEY}={RANDOM_INIT!r} for '
            'a student from random init.')
