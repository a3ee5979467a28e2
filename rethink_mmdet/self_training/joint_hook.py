# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``JointStateHook``: the joint-training wrapper's own state under its own
checkpoint key.

A :class:`~.joint.JointTrainingDetector` has, beside the detector's weights,
a classification head (``cls_head.*``) and the student's loss-normalization
averages (``loss_norm.*``), both in its ``state_dict`` (so that DDP, plain
``torch.save`` and ``load_state_dict`` see the whole model). A checkpoint
whose ``state_dict`` holds them does not load into the plain detector config
with ``strict=True`` (``tools/test.py`` prints ``unexpected key``). This
hook keeps them under :data:`JOINT_STATE_KEY` instead, as mmengine's
``EMAHook`` keeps ``ema_state_dict``. A plain self-training student
(:class:`~.student.SelfTrainingDetector`) has the same ``loss_norm.*``
averages: the paper grid's students, the shapes students and the studies'
runs list this hook too, so every student checkpoint's ``state_dict`` is its
detector's. Without the hook a student still saves and resumes its
averages (they stay in the ``state_dict``); only a plain config loading its
checkpoint then reports them as unexpected keys.
"""
from collections import OrderedDict

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.registry import HOOKS
from rethink_mmdet.engine.runner_state import is_training_run, resume_requested
from .joint import JOINT_STATE_PREFIXES

__all__ = ['JOINT_STATE_KEY', 'JointStateHook']

#: Checkpoint key of the wrapper's own state.
JOINT_STATE_KEY = 'joint_state_dict'


@HOOKS.register_module()
class JointStateHook(Hook):
    """Keep the joint-training head and loss-normalization state out of the
    checkpoint's ``state_dict``.

    Runner events used:

    - ``before_save_checkpoint``: move the ``state_dict`` entries under
      :data:`~.joint.JOINT_STATE_PREFIXES` (``cls_head.``, ``loss_norm.``)
      to ``checkpoint['joint_state_dict']``; what is left is the plain
      detector's ``state_dict``.
    - ``after_load_checkpoint`` (before the runner loads the weights): when
      the run resumes, put them back into ``checkpoint['state_dict']`` so the
      head and the averages continue; a ``load_from`` without resume (e.g.
      starting an arm from another run's checkpoint) loads the detector
      only, the head and averages start fresh (as ``EMAHook`` re-copies its
      model unless resuming), which it logs; a test run drops them
      silently.

    A model without such keys (any plain detector) passes through unchanged,
    so one ``custom_hooks`` list can serve every arm of a grid.
    """

    priority = 'NORMAL'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Move the wrapper's own entries to :data:`JOINT_STATE_KEY`.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being saved.
        """
        state = checkpoint.get('state_dict', {})
        own = OrderedDict((key, state.pop(key)) for key in list(state)
                          if key.startswith(JOINT_STATE_PREFIXES))
        if own:
            checkpoint[JOINT_STATE_KEY] = own

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume, put the stored entries back for the model to load.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        own = checkpoint.pop(JOINT_STATE_KEY, None)
        if own is None:
            return
        if resume_requested(runner):
            checkpoint.setdefault('state_dict', OrderedDict()).update(own)
            return
        if not is_training_run(runner):  # testing: nothing starts
            return
        print_log(
            f'JointStateHook: the checkpoint\'s {JOINT_STATE_KEY} '
            '(classification head, loss normalization) is not loaded: '
            'not a resume, so they start fresh.',
            logger='current')
