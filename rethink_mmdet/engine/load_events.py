# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Whether this training run loaded a checkpoint, from mmengine's public
hook events.

He et al. 2019 (Sec. 4: random init) and Zoph et al. 2020 (Sec. 3.2: the
student starts from its teacher) both depend on it: ``ScratchInitHook``
must keep resumed weights, ``StudentInitCheckHook`` must see the teacher's
weights loaded. mmengine's ``Runner`` keeps the answer only in the private
``_has_loaded``; every load (``resume`` or ``load_from``) goes through
``Runner.load_checkpoint``, which calls the hooks' ``after_load_checkpoint``
before ``before_train``. :class:`LoadedCheckpointMixin` records that event
per hook, so a hook answers for itself under any Runner.
"""
from mmengine.hooks import Hook

__all__ = ['LoadedCheckpointMixin']


class LoadedCheckpointMixin(Hook):
    """Hook base that knows whether the run loaded a checkpoint.

    ``before_run`` forgets, ``after_load_checkpoint`` records; a subclass
    that defines either calls ``super()``. Read :attr:`loaded_checkpoint`
    from ``before_train`` on (``Runner.train`` loads after ``before_run``
    and before the loop's ``before_train``).
    """

    _loaded = False

    @property
    def loaded_checkpoint(self) -> bool:
        """Whether a checkpoint was loaded into the model in this run."""
        return self._loaded

    def before_run(self, runner) -> None:
        self._loaded = False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = True
