"""Random number streams that survive a resume.

Long schedules (He et al. 2019: 6x-9x = 540k-810k iterations) are trained
in many pieces on preemptible clusters; a resumed piece should continue the
run, not re-draw it. mmengine checkpoints hold the model, optimizer, LR
schedule and message hub but no random state: after a resume the global
generators restart from the seed, so augmentation draws (mmcv transforms use
``numpy.random``) and in-model sampling (``torch.randperm`` in mmdet's
``RandomSampler``) differ from an uninterrupted run.

:class:`RNGStateHook` stores the states of Python's ``random``, NumPy's
global generator, torch's CPU generator and every initialised CUDA device's
generator under the checkpoint key :data:`RNG_STATE_KEY`, and restores them
when a run resumes. With ``randomness=dict(seed=..., deterministic=True)``
and deterministic kernels, a run stopped and resumed any number of times
ends with the same weights as one that never stopped (tested on CPU).

When to restore matters: on resume mmengine's ``IterBasedTrainLoop`` skips
the batches already trained by *loading* them again (``next()`` on its
dataloader iterator ``iter`` times after ``before_train_epoch``), which runs
the data pipeline and consumes the global generators, and it fetches the
first resumed batch *before* ``before_train_iter``. Restoring in
``after_load_checkpoint`` would be undone by the skip, and restoring in
``before_train_iter`` would come one batch late. The hook therefore wraps
the loop's dataloader iterator and restores the states right before the
first resumed batch is fetched, then unwraps it.

Every rank's states: mmengine writes checkpoints on rank 0 only
(``Runner.save_checkpoint`` is ``master_only``, and so is
``before_save_checkpoint``), but every rank calls ``Runner.save_checkpoint``
at the same point. The hook wraps that public method on the runner so that
all ranks first gather their states (one ``all_gather_object`` per saved
checkpoint, none per iteration), and rank 0 stores the list: each rank
restores its own on resume, so a multi-process resume continues every
rank's augmentation and sampling streams. The collective requires that
every rank calls ``Runner.save_checkpoint`` (mmengine's ``CheckpointHook``
and its subclasses do); a resume with another number of ranks restores
none (with a warning), since the ranks' streams no longer correspond.

Limits:

- Dataloader workers (``num_workers > 0``) have their own generators, seeded
  by mmengine's ``worker_init_fn`` from ``seed``, ``rank`` and the worker id
  (the same on every start): mmengine's loop replays every batch through the
  workers, which restores their streams; the resumable loops of
  :mod:`.loops` restart the workers' streams from those seeds.
- Validation during training runs with the training streams set aside
  (``before_val``/``after_val``), so evaluation never shifts the training
  draws and a checkpoint taken during a validation resumes exactly.
- A loop that fast-forwards without fetching the skipped batches gets its
  states restored at its first ``before_train_iter`` (with a warning):
  correct for everything but the first resumed batch's pipeline.
"""
import functools
import logging
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import (all_gather_object, get_rank, get_world_size,
                           is_distributed)
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.registry import HOOKS

#: Checkpoint key under which :class:`RNGStateHook` stores the states.
RNG_STATE_KEY = 'rng_state'


def get_rng_state() -> dict:
    """States of Python's ``random``, NumPy's global generator, torch CPU and
    initialised CUDA generators, as objects ``torch.load(weights_only=True)``
    accepts (tuples, ints, floats, tensors)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    cuda = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    return dict(
        python=random.getstate(),
        numpy=dict(
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            gauss=float(gauss)),
        torch=torch.get_rng_state(),
        cuda=list(cuda))


def set_rng_state(state: dict) -> None:
    """Restore states captured by :func:`get_rng_state`.

    Args:
        state (dict): The states, possibly loaded on another device.

    Raises:
        KeyError: If ``state`` lacks one of the generators.
    """
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    np_state = state['numpy']
    np.random.set_state(
        ('MT19937', np_state['keys'].cpu().numpy().astype(np.uint32),
         np_state['pos'], np_state['has_gauss'], np_state['gauss']))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda') or []
    if cuda and torch.cuda.is_available():
        for device, cuda_state in enumerate(cuda[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.cpu(), device)


class _RestoreBeforeBatch:
    """Stand-in for a train loop's dataloader iterator that restores the
    random states right before batch number ``skip`` (0-based) is fetched,
    then puts the original iterator back on the loop."""

    def __init__(self, loop, state: dict, skip: int, on_restore) -> None:
        self._loop = loop
        self._inner = loop.dataloader_iterator
        self._state = state
        self._remaining = skip
        self._on_restore = on_restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._remaining == 0:
            self.restore()
        else:
            self._remaining -= 1
        return next(self._inner)

    def restore(self) -> None:
        self._loop.dataloader_iterator = self._inner
        set_rng_state(self._state)
        self._on_restore()

    def __getattr__(self, name):
        return getattr(self._inner, name)


def stored_state(stored: Optional[dict], rank: int,
                 world_size: int) -> Optional[dict]:
    """This rank's states in a checkpoint's :data:`RNG_STATE_KEY` entry.

    Args:
        stored (dict, optional): ``dict(world_size=N, ranks=[...])``, or
            one state with ``rank``/``world_size`` keys (checkpoints of
            earlier versions, which stored rank 0's only).
        rank (int): This process's rank.
        world_size (int): This run's number of ranks.

    Returns:
        dict or None: The states, or None where the checkpoint has none
        for this rank or was saved with another number of ranks (logged).
    """
    if stored is None:
        return None
    ranks = stored.get('ranks')
    if ranks is None:  # one state: rank 0's
        ranks = [{k: v for k, v in stored.items() if k != 'world_size'}]
    saved_size = int(stored.get('world_size', len(ranks)))
    if saved_size != world_size:
        print_log(
            f'RNGStateHook: the checkpoint holds the random states of '
            f'{saved_size} rank(s), this run has {world_size}: no rank '
            'restores them (the streams start from the seed).',
            logger='current',
            level=logging.WARNING)
        return None
    if rank >= len(ranks):
        print_log(
            f'RNGStateHook: the checkpoint holds no random states for rank '
            f'{rank} (saved by an older version, rank 0 only): this rank '
            'continues from the seed.',
            logger='current',
            level=logging.WARNING)
        return None
    return ranks[rank]


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save every rank's global random states in checkpoints and continue
    them on resume.

    Runner events used:

    - ``before_run``: wrap ``runner.save_checkpoint`` so that all ranks
      gather their states before each save (distributed training only).
    - ``before_save_checkpoint``: store the states of all ranks under
      :data:`RNG_STATE_KEY` (rank 0, which writes the checkpoint).
    - ``after_load_checkpoint``: keep this rank's loaded states (applied
      only if the run resumes at the checkpoint's iteration, not for
      ``load_from``).
    - ``before_train_epoch``: arrange the restore right before the first
      resumed batch is fetched (after the loop's skip of trained batches).
    - ``before_train_iter``: restore at the latest here, for loops that do not
      fetch the skipped batches.
    - ``before_val`` / ``after_val``: set the training streams aside during
      validation.
    - ``after_run``: unwrap ``runner.save_checkpoint``.

    See the module docstring for why and for the limits.

    Args:
        strict (bool): Raise if a resumed checkpoint has no stored states
            (e.g. written without this hook) instead of warning and
            continuing from the seed. Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._loaded: Optional[dict] = None
        self._loaded_iter: Optional[int] = None
        self._pending: Optional[_RestoreBeforeBatch] = None
        self._outside_val: Optional[dict] = None
        self._gathered: Optional[List[dict]] = None

    def _training_state(self) -> dict:
        # A checkpoint saved during validation (save_best, preemption)
        # resumes training: it gets the states set aside in before_val.
        return self._outside_val or get_rng_state()

    def before_run(self, runner) -> None:
        """Make every rank contribute its states to each checkpoint.

        Args:
            runner (Runner): The runner.
        """
        if not is_distributed() or 'save_checkpoint' in vars(runner):
            return
        save = runner.save_checkpoint

        @functools.wraps(save)
        def save_checkpoint(*args, **kwargs):
            self._gathered = all_gather_object(self._training_state())
            try:
                return save(*args, **kwargs)
            finally:
                self._gathered = None

        runner.save_checkpoint = save_checkpoint

    def after_run(self, runner) -> None:
        """Put ``runner.save_checkpoint`` back.

        Args:
            runner (Runner): The runner.
        """
        vars(runner).pop('save_checkpoint', None)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the random states of every rank in ``checkpoint``.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being saved.
        """
        states = self._gathered
        if states is None:
            states = [self._training_state()]
            if get_world_size() > 1:
                runner.logger.warning(
                    'RNGStateHook: a checkpoint is saved without going '
                    'through runner.save_checkpoint on every rank; it holds '
                    "rank 0's random states only.")
        checkpoint[RNG_STATE_KEY] = dict(
            world_size=get_world_size(), ranks=list(states))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep this rank's stored states of a loaded checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        self._loaded = checkpoint.get(RNG_STATE_KEY)
        self._loaded_iter = checkpoint.get('meta', {}).get('iter')

    def before_train_epoch(self, runner) -> None:
        """Arrange the restore of the loaded states if this is a resume.

        Args:
            runner (Runner): The runner.

        Raises:
            RuntimeError: With ``strict``, if the resumed checkpoint holds
                no random states.
        """
        loop = runner.train_loop
        if self._loaded_iter is None or runner.iter == 0 \
                or self._loaded_iter != runner.iter:
            return  # not a resume (fresh run, or load_from weights only)
        stored, self._loaded, self._loaded_iter = self._loaded, None, None
        if stored is None:
            msg = ('The resumed checkpoint holds no random states (it was '
                   'saved without RNGStateHook): training continues from the '
                   'seed, not from the stored streams.')
            if self.strict:
                raise RuntimeError(msg + ' Set RNGStateHook(strict=False) to '
                                   'accept this.')
            runner.logger.warning(msg)
            return
        state = stored_state(stored, get_rank(), get_world_size())
        if state is None:
            return
        if hasattr(loop, 'dataloader_iterator'):
            self._pending = _RestoreBeforeBatch(
                loop, state, skip=runner.iter, on_restore=self._restored)
            loop.dataloader_iterator = self._pending
        else:  # loops that create their iterator after this event
            set_rng_state(state)

    def _restored(self) -> None:
        self._pending = None

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """Restore now if the loop fetched fewer batches than it skipped.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict or tuple or list, optional): The batch.
        """
        if self._pending is not None:
            runner.logger.warning(
                'RNGStateHook: the train loop did not fetch the skipped '
                'batches through its dataloader iterator; random states are '
                'restored at the first resumed iteration instead (the first '
                "resumed batch's augmentation is not continued exactly).")
            self._pending.restore()

    def before_val(self, runner) -> None:
        """Set the training random states aside.

        Args:
            runner (Runner): The runner.
        """
        self._outside_val = get_rng_state()

    def after_val(self, runner) -> None:
        """Put the training random states back.

        Args:
            runner (Runner): The runner.
        """
        if self._outside_val is not None:
            set_rng_state(self._outside_val)
            self._outside_val = None
