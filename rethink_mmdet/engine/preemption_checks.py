"""What :class:`~.runner.LongRunRunner` needs of a run
before it arms: a ``CheckpointHook`` that counts iterations (the stop is at
an iteration) and a train loop that can stop and resume inside an epoch
(He et al. 2019's 6x-9x schedules run for days on preempting clusters; a
wrong loop found at the first preemption costs a day). Each refused with
the fix.
"""
import logging

from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from .loops import ResumableEpochBasedTrainLoop

__all__ = ['preemptible_checkpoint_hook']


def preemptible_checkpoint_hook(runner) -> CheckpointHook:
    """The runner's ``CheckpointHook``, after checking it and the loop.

    Args:
        runner (Runner): The runner of a training run.

    Returns:
        CheckpointHook: The hook the preemption checkpoint goes through.

    Raises:
        RuntimeError: No ``CheckpointHook``, one that counts epochs, or
            mmengine's ``EpochBasedTrainLoop``.
    """
    ckpt = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                None)
    if ckpt is None:
        raise RuntimeError(
            'LongRunRunner saves the preemption checkpoint through the '
            'CheckpointHook, but the runner has none. Set '
            'default_hooks.checkpoint='
            "dict(type='CheckpointHook', by_epoch=False, interval=...).")
    if ckpt.by_epoch:
        raise RuntimeError(
            'LongRunRunner checkpoints a preemption at an iteration, but '
            'CheckpointHook(by_epoch=True) names checkpoints by epoch. '
            'Set default_hooks.checkpoint.by_epoch=False (and '
            'interval in iterations).')
    loop = runner.train_loop
    if isinstance(loop, EpochBasedTrainLoop) and \
            not isinstance(loop, ResumableEpochBasedTrainLoop):
        raise RuntimeError(
            f'LongRunRunner: {type(loop).__name__} (mmengine'
            "'s epoch loop) neither stops nor resumes inside an epoch: a "
            'preempted run would train on to the end of the epoch (past '
            'the warning time), and its restart would train the '
            "epoch's first part twice. Use the same loop made resumable:"
            " train_cfg=dict(type='ResumableEpochBasedTrainLoop', "
            'max_epochs=...) (or --cfg-options '
            'train_cfg.type=ResumableEpochBasedTrainLoop).')
    if not isinstance(loop, (IterBasedTrainLoop, EpochBasedTrainLoop)):
        print_log(
            f'LongRunRunner: unknown train loop '
            f'{type(loop).__name__}; a preemption sets its '
            '`stop_training` after the checkpoint, and a loop that '
            'ignores it trains on until the job is killed.',
            logger='current',
            level=logging.WARNING)
    return ckpt
