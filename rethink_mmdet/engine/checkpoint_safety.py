"""Load mmengine/mmdet checkpoints on torch >= 2.6 without disabling safety.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
any pickled global that is not allow-listed. mmengine 0.10.7 stores its
``MessageHub`` state (``HistoryBuffer`` objects holding numpy arrays) in every
checkpoint, so ``tools/test.py CONFIG CKPT`` and ``--resume`` fail with
``Weights only load failed ... HistoryBuffer``.

On import of :mod:`rethink_mmdet` this module

1. allow-lists exactly the globals mmengine and mmdet write into their
   checkpoints (:data:`CHECKPOINT_SAFE_GLOBALS`), keeping
   ``weights_only=True``;
2. replaces mmengine's local-file checkpoint loader by
   :func:`load_local_checkpoint`, which loads with ``weights_only=True``
   explicitly and turns a refusal into :class:`UntrustedCheckpointError`
   naming the file, the offending objects and how to load a trusted file.
"""
import os
import os.path as osp
import pickle
from typing import List, Optional

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

#: Environment variable listing checkpoint files (``os.pathsep`` separated)
#: the user trusts enough to unpickle in full (``weights_only=False``).
TRUSTED_CHECKPOINTS_ENV = 'RETHINK_MMDET_TRUSTED_CHECKPOINTS'

# numpy's array/scalar reconstructors live in numpy.core (numpy 1) or
# numpy._core (numpy 2); pickles name the module of the numpy that wrote
# them, so both names are mapped to the running numpy's functions.
_np_multiarray = (getattr(np, '_core', None) or np.core).multiarray
_NUMPY_MODULES = ('numpy.core.multiarray', 'numpy._core.multiarray')

#: dtypes of the arrays and scalars above (their classes are needed to BUILD
#: a dtype): bool, integers and floats. ``object`` is deliberately absent:
#: its items would be arbitrary pickles.
_NUMERIC_DTYPE_CHARS = '?bBhHiIlLqQefd'

#: ``HistoryBuffer.__getstate__`` pickles its statistics methods as
#: ``getattr(HistoryBuffer, 'min')`` etc. These are the names it may ask for.
HISTORY_BUFFER_STATISTICS = frozenset(('min', 'max', 'current', 'mean'))


def history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` as mmengine's ``HistoryBuffer`` pickles need it, only.

    Allow-listed under the name ``builtins.getattr``: a general ``getattr``
    would let a pickle walk from any allowed object to arbitrary attributes,
    so this one resolves nothing but the statistics methods of
    ``HistoryBuffer``.

    Args:
        obj (object): Must be the ``HistoryBuffer`` class.
        name (str): A statistics method name (``min``, ``max``, ``current``,
            ``mean`` or one registered with
            ``HistoryBuffer.register_statistics``).

    Returns:
        object: The statistics method.
    """
    # HistoryBuffer._statistics_methods: private mmengine API, see
    # rethink_mmdet.engine.runner_state.PRIVATE_MMENGINE_API.
    registered = set(HistoryBuffer._statistics_methods)
    allowed = HISTORY_BUFFER_STATISTICS | registered
    if obj is not HistoryBuffer or name not in allowed:
        raise pickle.UnpicklingError(
            f'getattr({obj!r}, {name!r}) in a checkpoint: rethink_mmdet only '
            'allows getattr(HistoryBuffer, <statistics method>), which '
            'mmengine writes.')
    return getattr(HistoryBuffer, name)


#: The exact globals found in mmengine 0.10 / mmdet 3.3 checkpoints, beyond
#: torch's own defaults (tensors, OrderedDict, primitives): the entries are
#: objects or ``(object, name in the pickle)`` pairs.
CHECKPOINT_SAFE_GLOBALS: List[object] = [
    HistoryBuffer,  # MessageHub.log_scalars
    (history_buffer_getattr, 'builtins.getattr'),  # HistoryBuffer state
    np.ndarray,  # HistoryBuffer._log_history / _count_history
    np.dtype,
]
CHECKPOINT_SAFE_GLOBALS += list(
    dict.fromkeys(type(np.dtype(c)) for c in _NUMERIC_DTYPE_CHARS))
# ndarray pickles, and numpy scalars (runtime_info's eta)
CHECKPOINT_SAFE_GLOBALS += [(_np_multiarray._reconstruct, f'{m}._reconstruct')
                            for m in _NUMPY_MODULES]
CHECKPOINT_SAFE_GLOBALS += [(_np_multiarray.scalar, f'{m}.scalar')
                            for m in _NUMPY_MODULES]


def safe_global_names() -> List[str]:
    """The names under which :data:`CHECKPOINT_SAFE_GLOBALS` are allowed."""
    return [
        g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
        for g in CHECKPOINT_SAFE_GLOBALS
    ]


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside the allow-list."""


def register_checkpoint_safe_globals() -> None:
    """Allow-list :data:`CHECKPOINT_SAFE_GLOBALS` for ``torch.load``.

    Idempotent. A no-op on torch versions without ``add_safe_globals``
    (< 2.4), which do not default to ``weights_only=True`` either.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(CHECKPOINT_SAFE_GLOBALS)


def trusted_checkpoints() -> List[str]:
    """Absolute paths listed in ``$RETHINK_MMDET_TRUSTED_CHECKPOINTS``."""
    value = os.environ.get(TRUSTED_CHECKPOINTS_ENV, '')
    return [osp.abspath(p) for p in value.split(os.pathsep) if p]


def _unsafe_globals(filename: str) -> List[str]:
    """Names of the globals in ``filename`` that torch would refuse."""
    find = getattr(torch.serialization, 'get_unsafe_globals_in_checkpoint',
                   None)
    if find is None:
        return []
    try:
        return sorted(find(filename))
    except Exception:  # a corrupt file: torch's own error is shown instead
        return []


def load_local_checkpoint(filename: str,
                          map_location: Optional[str] = None) -> dict:
    """Load a local checkpoint with ``weights_only=True``.

    Registered as mmengine's ``CheckpointLoader`` scheme for local paths, so
    ``load_from``, ``--resume`` and ``tools/test.py CONFIG CKPT`` use it.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (str, optional): Same as :func:`torch.load`.
            Defaults to None.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
        UntrustedCheckpointError: If the file holds objects that are not
            allow-listed; the message names them and says how to load a
            trusted file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if osp.abspath(filename) in trusted_checkpoints():
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        names = _unsafe_globals(filename) or ['(see the torch error below)']
        raise UntrustedCheckpointError(
            f'Refused to load checkpoint {filename!r}: it contains pickled '
            f'objects that mmengine/mmdet checkpoints never hold: '
            f'{", ".join(names)}. Unpickling them could run arbitrary code, '
            'so they are loaded only on request. If you trust this file, '
            'either allow-list just these objects before loading, e.g. '
            '`torch.serialization.add_safe_globals([<the classes>])`, or '
            f'trust this one file: `export {TRUSTED_CHECKPOINTS_ENV}='
            f'{osp.abspath(filename)}` (several paths separated by '
            f'{os.pathsep!r}), which loads it with weights_only=False.\n'
            f'torch said: {err}') from err


def install_checkpoint_loader() -> None:
    """Register :func:`load_local_checkpoint` for local paths in mmengine."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


register_checkpoint_safe_globals()
install_checkpoint_loader()
