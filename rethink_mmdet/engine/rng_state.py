"""Random number streams that survive a resume.

Long schedules (He et al. 2019: 6x-9x = 540k-810k iterations) are trained
in many pieces on preemptible clusters; a resumed piece should continue the
run, not re-draw it. mmengine checkpoints hold the model, optimizer, LR
schedule and message hub but no random state: after a resume the global
generators restart from the seed, so augmentation draws (mmcv transforms use
``numpy.random``) and in-model sampling (``torch.randperm`` in mmdet's
``RandomSampler``) differ from an uninterrupted run.

:class:`~.runner.LongRunRunner` stores the states of Python's ``random``,
NumPy's global generator, torch's CPU generator and every initialised CUDA
device's generator of *every rank* under the checkpoint key
:data:`RNG_STATE_KEY` (:class:`RNGStreams` holds them between the events),
and restores each rank's own when a run resumes. With
``randomness=dict(seed=..., deterministic=True)`` and deterministic
kernels, a run stopped and resumed any number of times ends with the same
weights as one that never stopped (tested on CPU).

When to restore: the resumable loops of :mod:`.loops` create their resumed
dataloader iterator after the ``before_train_epoch`` event without
consuming torch's generator, so the states are restored at that event.
mmengine's ``IterBasedTrainLoop`` instead fetches every trained batch again
(consuming the generators) and the first resumed batch before
``before_train_iter``: there the states are restored at the first
``before_train_iter`` (with a warning: exact for everything but the first
resumed batch's pipeline).

Every rank's states: mmengine writes checkpoints on rank 0 only, but every
rank calls ``Runner.save_checkpoint`` at the same point; the runner's
``save_checkpoint`` gathers the states there (one ``all_gather_object``
per saved checkpoint, none per iteration). A resume with another number
of ranks restores none (with a warning).

Limits: dataloader workers (``num_workers > 0``) have their own generators,
seeded by mmengine's ``worker_init_fn`` from ``seed``, rank and worker id
at every start. Validation during training runs with the training streams
set aside, so evaluation never shifts the training draws and a checkpoint
taken during a validation resumes exactly.
"""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import (all_gather_object, get_rank, get_world_size,
                           is_distributed)
from mmengine.logging import print_log

__all__ = [
    'RNG_STATE_KEY', 'get_rng_state', 'set_rng_state', 'stored_state',
    'RNGStreams'
]

#: Checkpoint key of the states (:class:`~.runner.LongRunRunner`).
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
            f'LongRunRunner: the checkpoint holds the random states of '
            f'{saved_size} rank(s), this run has {world_size}: no rank '
            'restores them (the streams start from the seed).',
            logger='current',
            level=logging.WARNING)
        return None
    if rank >= len(ranks):
        print_log(
            f'LongRunRunner: the checkpoint holds no random states for rank '
            f'{rank} (saved by an older version, rank 0 only): this rank '
            'continues from the seed.',
            logger='current',
            level=logging.WARNING)
        return None
    return ranks[rank]


class RNGStreams:
    """The training random streams of one rank across checkpoints, resumes
    and validations (owned by :class:`~.runner.LongRunRunner`, which calls
    these at its events; see the module docstring).

    Args:
        strict (bool): Raise if a resumed checkpoint has no stored states
            (e.g. written by mmengine's plain Runner) instead of warning and
            continuing from the seed. Defaults to False.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._loaded: Optional[dict] = None
        self._loaded_iter: Optional[int] = None
        self._pending: Optional[dict] = None  # to restore at resume
        self._outside_val: Optional[dict] = None
        self._gathered: Optional[list] = None

    def training_state(self) -> dict:
        """The training streams now (those set aside during validation: a
        checkpoint saved then resumes training)."""
        return self._outside_val or get_rng_state()

    def gather(self) -> None:
        """Collect every rank's training states for the next checkpoint (a
        collective in a distributed run: call on all ranks)."""
        if is_distributed():
            self._gathered = all_gather_object(self.training_state())

    def store(self, checkpoint: dict, logger) -> None:
        """Put the gathered states (rank 0: the writer) in ``checkpoint``.

        Args:
            checkpoint (dict): The checkpoint being saved.
            logger (MMLogger): Where a checkpoint without the other ranks'
                states is reported.
        """
        states, self._gathered = self._gathered, None
        if states is None:
            states = [self.training_state()]
            if get_world_size() > 1:
                logger.warning(
                    'LongRunRunner: a checkpoint saved without going through '
                    'runner.save_checkpoint on every rank holds rank 0\'s '
                    'random states only.')
        checkpoint[RNG_STATE_KEY] = dict(
            world_size=get_world_size(), ranks=list(states))

    def loaded(self, checkpoint: dict) -> None:
        """Keep a loaded checkpoint's states until the run knows whether it
        resumes at that checkpoint's iteration."""
        self._loaded = checkpoint.get(RNG_STATE_KEY)
        self._loaded_iter = checkpoint.get('meta', {}).get('iter')

    def prepare_resume(self, iteration: int, logger) -> None:
        """Select this rank's states to restore if the run resumes at
        ``iteration`` (``load_from`` weights only: nothing to restore).

        Raises:
            RuntimeError: With ``strict``, if the resumed checkpoint holds
                no random states.
        """
        if self._loaded_iter is None or iteration == 0 \
                or self._loaded_iter != iteration:
            return  # not a resume (fresh run, or load_from weights only)
        stored, self._loaded, self._loaded_iter = self._loaded, None, None
        if stored is None:
            msg = ('The resumed checkpoint holds no random states (it was '
                   "saved by mmengine's plain Runner): training continues "
                   'from the seed, not from the stored streams.')
            if self.strict:
                raise RuntimeError(msg +
                                   ' Set rng_state_cfg=dict(strict=False) to '
                                   'accept this.')
            logger.warning(msg)
            return
        self._pending = stored_state(stored, get_rank(), get_world_size())

    def restore_pending(self) -> bool:
        """Restore the selected states now, once. Returns whether it did."""
        state, self._pending = self._pending, None
        if state is not None:
            set_rng_state(state)
        return state is not None

    def set_aside(self) -> None:
        """Keep the training streams out of a validation."""
        self._outside_val = get_rng_state()

    def put_back(self) -> None:
        """Continue the training streams after a validation."""
        if self._outside_val is not None:
            set_rng_state(self._outside_val)
            self._outside_val = None
