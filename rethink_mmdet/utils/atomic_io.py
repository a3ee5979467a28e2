"""The one way this package writes a file that must be complete or absent.

A job on a cluster can be killed at any moment, also while it writes a
checkpoint, a pseudo-label column or a subset file. Every such write goes
through :func:`atomic_output`: the data goes to a hidden temporary file in
the destination's directory (same file system), which is flushed and
``fsync``-ed, then ``os.replace``-d onto the final name (atomic on POSIX)
and the directory entry is ``fsync``-ed. The final name therefore holds
either its old content or all of the new one, never a part.

Temporary files are named ``.<name>.atomic-tmp-<pid>-<random>``: hidden and
not ending in the final name's extension, so neither mmengine's
``last_checkpoint`` / ``max_keep_ckpts`` logic nor a store's column scan
ever sees them; :func:`is_temp_file` recognises them for clean-up.
"""
import contextlib
import json
import os
import os.path as osp
import uuid
from typing import Any, Iterator, Union

#: Marker in the names of temporary files (see the module docstring).
TMP_MARKER = '.atomic-tmp-'


def temp_path_for(filepath: str) -> str:
    """A unique temporary path next to ``filepath`` (same file system)."""
    dirname, name = osp.split(str(filepath))
    token = f'{os.getpid()}-{uuid.uuid4().hex[:8]}'
    return osp.join(dirname, f'.{name}{TMP_MARKER}{token}')


def is_temp_file(name: str) -> bool:
    """Whether ``name`` (a base name) is a temporary file of this module."""
    return name.startswith('.') and TMP_MARKER in name


def _fsync_path(path: str) -> None:
    """``fsync`` a file or (best effort: not every file system supports
    opening directories) a directory."""
    try:
        fd = os.open(path or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp_path: str, filepath: str) -> None:
    """Move the complete temporary file onto its final name (atomic)."""
    os.replace(tmp_path, filepath)


@contextlib.contextmanager
def atomic_output(filepath: str) -> Iterator[str]:
    """Yield a temporary path to write; on a clean exit it becomes
    ``filepath`` atomically, on an exception it is removed.

    Whatever writes the temporary path (``open``, ``np.save``,
    ``np.lib.format.open_memmap``, ``torch.save``) must have closed it when
    the ``with`` block ends.

    Example::

        with atomic_output('out/boxes.npy') as tmp:
            np.save(tmp, boxes)

    Args:
        filepath (str): Destination; its directory is created if missing.

    Yields:
        str: The temporary path.
    """
    filepath = str(filepath)
    dirname = osp.dirname(filepath)
    if dirname:
        os.makedirs(dirname, exist_ok=True)
    tmp_path = temp_path_for(filepath)
    try:
        yield tmp_path
        _fsync_path(tmp_path)
        _commit(tmp_path, filepath)
    except BaseException:
        if osp.lexists(tmp_path):
            os.remove(tmp_path)
        raise
    _fsync_path(dirname)


def atomic_write(data: Union[bytes, str],
                 filepath: str,
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``filepath`` so that the path holds either its old
    content or all of ``data``, never a part (see :func:`atomic_output`).

    Args:
        data (bytes or str): Content; ``str`` is encoded with ``encoding``.
        filepath (str): Destination; its directory is created if missing.
        encoding (str): Encoding of ``str`` data. Defaults to 'utf-8'.
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    with atomic_output(filepath) as tmp_path:
        with open(tmp_path, 'wb') as f:
            f.write(data)


def dump_json(obj: Any, filepath: str, canonical: bool = True) -> None:
    """Write ``obj`` as JSON, atomically.

    Args:
        obj (Any): A JSON-serialisable object.
        filepath (str): Destination.
        canonical (bool): Sorted keys and compact separators, so equal
            objects give equal bytes (subset and shapes files are compared
            by checksum); False writes ``indent=1`` for files people read.
            Defaults to True.
    """
    if canonical:
        text = json.dumps(obj, sort_keys=True, separators=(',', ':'))
    else:
        text = json.dumps(obj, indent=1)
    atomic_write(text + '\n', filepath)
