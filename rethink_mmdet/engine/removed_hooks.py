"""The hooks that :class:`~.runner.LongRunRunner` replaced, kept as names
that refuse to be built with the fix (rethink_mmdet is pre-1.0: a config
naming them fails at once, saying what to write instead, rather than with
mmengine's bare "not in the registry").

``PreemptionCheckpointHook`` and ``RNGStateHook`` needed each other and
``ImagesSeenHook`` (a flag riding another hook's collective, a method
replaced on the runner, a hook looked up by class name); the runner owns
what they did (see :mod:`.runner`).
"""
from mmengine.hooks import Hook

from mmdet.registry import HOOKS

__all__ = ['PreemptionCheckpointHook', 'RNGStateHook', 'REMOVED_HOOKS']

#: Removed hook type -> what replaced it.
REMOVED_HOOKS = {
    'PreemptionCheckpointHook':
    "runner_type = 'mmdet.LongRunRunner' (its signals / atomic_checkpoints / "
    'repair_last_checkpoint arguments: preemption_cfg=dict(...))',
    'RNGStateHook':
    "runner_type = 'mmdet.LongRunRunner' (its strict argument: "
    'rng_state_cfg=dict(strict=...))',
}


def _refuse(name: str) -> None:
    raise RuntimeError(
        f'{name} was removed: LongRunRunner does what it did. Remove '
        f"dict(type='{name}') from custom_hooks and set "
        f'{REMOVED_HOOKS[name]} (docs/long_runs.md).')


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Removed: set ``runner_type='mmdet.LongRunRunner'``.

    Args:
        **kwargs: Ignored.

    Raises:
        RuntimeError: Always, naming the fix.
    """

    def __init__(self, **kwargs) -> None:
        _refuse(type(self).__name__)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Removed: set ``runner_type='mmdet.LongRunRunner'``.

    Args:
        **kwargs: Ignored.

    Raises:
        RuntimeError: Always, naming the fix.
    """

    def __init__(self, **kwargs) -> None:
        _refuse(type(self).__name__)
