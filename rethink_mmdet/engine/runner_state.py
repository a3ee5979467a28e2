"""Every private mmengine API this package relies on, in one place, and
the questions hooks ask the runner ("is this a training run?", "is this a
resume?").

Under :class:`~.runner.LongRunRunner` the questions have public answers:
the runner records them itself (:attr:`~.runner.LongRunRunner.is_training`,
``resume_requested``, ``load_from``, ``resume_checkpoint``,
``loaded_from``). The hooks that must also work alone under mmengine's
plain ``Runner`` (``ScratchGuardHook``, ``ScratchInitHook``,
``PretrainedFileHook``, the self-training hooks) get them there from the
private attributes below, which have no public route: the plain Runner
keeps ``resume``/``load_from`` only privately (``runner.cfg`` holds them
only when built from a config), tells ``train()`` from ``val()``/``test()``
in ``before_run`` by nothing but the built ``_train_loop``. Whether a
checkpoint was loaded has a public route, the hooks' own
``after_load_checkpoint`` event (:mod:`.load_events`). Each accessor raises
:class:`PrivateAPIError` when an attribute is missing, so a hook never
switches itself off silently on an mmengine that renamed one, and
:func:`check_mmengine_version` refuses, at import, an mmengine outside the
tested range (``requirements/runtime.txt`` pins the same range).
"""
import os
from typing import Optional

import mmengine
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.checkpoint import find_latest_checkpoint
from mmengine.utils import digit_version

__all__ = [
    'PRIVATE_MMENGINE_API', 'TESTED_MMENGINE', 'PrivateAPIError',
    'check_mmengine_version', 'is_training_run', 'resume_requested',
    'resume_checkpoint', 'load_from', 'save_checkpoint_at'
]

#: mmengine versions the private API below was checked against: [min, max).
TESTED_MMENGINE = ('0.10.7', '0.11.0')
#: Set to 1 to import on an mmengine outside :data:`TESTED_MMENGINE`.
SKIP_VERSION_CHECK_ENV = 'RETHINK_MMDET_SKIP_MMENGINE_CHECK'
#: Private mmengine (and torch) API used by this package: name -> who uses
#: it and why there is no public equivalent.
PRIVATE_MMENGINE_API = {
    'Runner._train_loop':
    'is_training_run under the plain Runner: a built BaseLoop only inside '
    'Runner.train(), the only way to tell train() from val()/test() in '
    'before_run (ScratchGuardHook, PretrainedFileHook); LongRunRunner '
    'answers with its public is_training',
    'Runner._resume':
    'resume_requested under the plain Runner, which keeps the resume '
    'argument only here (ScratchGuardHook, JointStateHook)',
    'Runner._load_from':
    'load_from under the plain Runner, which keeps the load_from argument '
    'only here (ScratchGuardHook)',
    'CheckpointHook._save_checkpoint_with_step':
    'save_checkpoint_at: LongRunRunner saves at the preempted iteration '
    '(also during validation, where the step is runner.iter) with '
    'CheckpointHook\'s naming, max_keep_ckpts and last_checkpoint '
    'bookkeeping; CheckpointHook has no public "save now"',
    'HistoryBuffer._statistics_methods':
    'checkpoint_safety: the names allow-listed for weights_only loading',
    'torch.utils.data._utils.signal_handling._set_worker_signal_handlers':
    'signals.ignore_in_dataloader_workers: signals in dataloader '
    'workers (a worker_init_fn would replace mmengine\'s seeding)',
}


class PrivateAPIError(RuntimeError):
    """A private mmengine attribute this package needs is missing."""


def _missing(name: str) -> PrivateAPIError:
    return PrivateAPIError(
        f'mmengine {mmengine.__version__} has no {name}, which rethink_mmdet '
        f'uses for {PRIVATE_MMENGINE_API[name]}. Install an mmengine in '
        f'[{TESTED_MMENGINE[0]}, {TESTED_MMENGINE[1]}) (see '
        'requirements/runtime.txt).')


def check_mmengine_version(version: Optional[str] = None) -> None:
    """Refuse an mmengine outside :data:`TESTED_MMENGINE` whose private API
    (see :data:`PRIVATE_MMENGINE_API`) is missing or untested.

    Args:
        version (str, optional): The version to check. Defaults to None:
            the installed ``mmengine.__version__``.

    Raises:
        ImportError: Outside the tested range, unless the environment
            variable ``RETHINK_MMDET_SKIP_MMENGINE_CHECK=1`` is set, or a
            class attribute of the list is missing.
    """
    version = version or mmengine.__version__
    low, high = TESTED_MMENGINE
    if not digit_version(low) <= digit_version(version) < digit_version(
            high) and os.environ.get(SKIP_VERSION_CHECK_ENV) != '1':
        raise ImportError(
            f'rethink_mmdet needs mmengine>={low},<{high} (installed: '
            f'{version}): its hooks use private mmengine API '
            f'({", ".join(PRIVATE_MMENGINE_API)}; see '
            'rethink_mmdet/engine/runner_state.py). Install '
            f'"mmengine>={low},<{high}", or set {SKIP_VERSION_CHECK_ENV}=1 to '
            'try this version anyway.')
    for owner, name in ((CheckpointHook, '_save_checkpoint_with_step'),
                        (HistoryBuffer, '_statistics_methods')):
        if not hasattr(owner, name):
            raise ImportError(str(_missing(f'{owner.__name__}.{name}')))


def _runner_attr(runner, name: str):
    try:
        return getattr(runner, name)
    except AttributeError:
        raise _missing(f'Runner.{name}') from None


def _long_run(runner) -> bool:
    from .runner import LongRunRunner  # the runner imports this module
    return isinstance(runner, LongRunRunner)


def is_training_run(runner) -> bool:
    """Whether ``runner`` runs :meth:`Runner.train` (which builds the train
    loop before ``before_run``), not ``Runner.val``/``Runner.test``."""
    if _long_run(runner):
        return runner.is_training
    return isinstance(_runner_attr(runner, '_train_loop'), BaseLoop)


def resume_requested(runner) -> bool:
    """The runner's ``resume`` flag (``--resume``): it allows ``load_from``
    (the run's own checkpoint), but may still start fresh when there is no
    checkpoint (see :func:`resume_checkpoint`)."""
    if _long_run(runner):
        return runner.resume_requested
    return bool(_runner_attr(runner, '_resume'))


def load_from(runner) -> Optional[str]:
    """The runner's ``load_from``."""
    if _long_run(runner):
        return runner.load_from
    return _runner_attr(runner, '_load_from')


def resume_checkpoint(runner) -> Optional[str]:
    """The checkpoint this run will resume from, or None for a fresh start:
    mmengine's ``Runner.load_or_resume`` rule, evaluated without loading
    (``load_from`` with ``resume``, else the work dir's
    ``last_checkpoint``)."""
    if _long_run(runner):
        return runner.resume_checkpoint
    if not resume_requested(runner):
        return None
    return load_from(runner) or find_latest_checkpoint(runner.work_dir)


def save_checkpoint_at(hook: CheckpointHook, runner, step: int) -> None:
    """Save through ``hook`` (its naming, backend, ``max_keep_ckpts`` and
    ``last_checkpoint`` bookkeeping) a checkpoint of ``step`` trained
    iterations: inside ``after_train_iter`` ``step = runner.iter + 1``,
    during validation ``step = runner.iter``.

    Raises:
        PrivateAPIError: If this mmengine's ``CheckpointHook`` lacks
            ``_save_checkpoint_with_step``.
    """
    save = getattr(hook, '_save_checkpoint_with_step', None)
    if save is None:
        raise _missing('CheckpointHook._save_checkpoint_with_step')
    save(runner, step, meta=dict(epoch=runner.epoch, iter=step))


check_mmengine_version()  # at import: fail early, naming the fix
