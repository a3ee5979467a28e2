"""Checkpoints that are either complete or absent, and a resume that only
ever picks a complete one.

Long schedules (He et al. 2019 train from scratch for 6x-9x = 540k-810k
iterations) run for days on clusters where a job can be killed at any moment,
including while it writes a checkpoint. mmengine's ``LocalBackend.put`` opens
the final ``iter_N.pth`` and writes into it, and ``CheckpointHook`` then
rewrites ``work_dir/last_checkpoint`` in place: a ``SIGKILL`` during either
write leaves a truncated checkpoint or a truncated pointer that
``resume = True`` picks up and fails on.

This module provides

1. :class:`AtomicLocalBackend`, registered as mmengine file backend
   ``'atomic_local'``: ``put`` writes to a hidden temporary file in the same
   directory, flushes and ``fsync``\\ s it, and ``os.replace``\\ s it onto the
   final name (atomic on POSIX file systems), so the final name only ever
   holds a complete file. Select it with
   ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``
   (:class:`~rethink_mmdet.engine.runner.LongRunRunner` writes local
   checkpoints this way by default). It is a *named* backend rather
   than a global replacement of mmengine's ``'local'`` backend so that
   importing :mod:`rethink_mmdet` never changes how other code writes files.
2. :func:`repair_last_checkpoint`, which makes ``last_checkpoint`` point at
   the newest *complete* checkpoint before mmengine reads it (a pointer cut
   short by a kill, a pointer to a truncated file written by a non-atomic
   backend, or a checkpoint renamed into place just before a kill that
   stopped the pointer update), and removes temporary files left by killed
   writers.

Both write through the package's one atomic-write helper,
:func:`rethink_mmdet.utils.atomic_write` (temporary files named
``.<name>.atomic-tmp-<pid>-<random>``: hidden, not ending in ``.pth``, so
neither ``last_checkpoint`` nor the checkpoint name template
(``iter_{}.pth``) nor ``max_keep_ckpts`` clean-up ever sees them).
"""
import logging
import os
import os.path as osp
import re
import string
import zipfile
from typing import List, Optional, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

from rethink_mmdet.utils import atomic_write, is_temp_file

#: Name of the file backend, for ``backend_args=dict(backend=...)``.
ATOMIC_BACKEND = 'atomic_local'
#: The pointer file mmengine's ``CheckpointHook`` writes into ``work_dir``
#: and ``find_latest_checkpoint`` reads.
LAST_CHECKPOINT = 'last_checkpoint'


@register_backend(ATOMIC_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` and ``put_text``.

    Everything else (``get``, ``exists``, ``remove``, ``join_path``, ...) is
    :class:`mmengine.fileio.LocalBackend`'s.
    """

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        """Write bytes to ``filepath`` atomically (see :func:`atomic_write`).

        Args:
            obj (bytes): Data to be written.
            filepath (str or Path): Path to write data.
        """
        atomic_write(obj, str(filepath))

    def put_text(self,
                 obj: str,
                 filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (see :func:`atomic_write`).

        Args:
            obj (str): Text to be written.
            filepath (str or Path): Path to write the text.
            encoding (str): Encoding of the text. Defaults to 'utf-8'.
        """
        atomic_write(obj, str(filepath), encoding=encoding)


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a complete ``torch.save`` file.

    ``torch.save`` writes a zip archive whose central directory is at the
    very end, so a file cut short anywhere fails to open as a zip. Cheap: it
    reads the directory, not the tensors.

    Args:
        path (str): Path of the checkpoint.

    Returns:
        bool: False for a missing, truncated or non-zip file.
    """
    if not path or not osp.isfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith('data.pkl') for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _template_regex(filename_tmpl: str) -> 're.Pattern':
    """A regex matching the names ``filename_tmpl.format(step)`` produces,
    for templates with one replacement field (``'iter_{}.pth'``,
    ``'step_{:06d}.pth'``)."""
    try:
        parts = list(string.Formatter().parse(filename_tmpl))
    except ValueError:
        parts = []
    fields = [p for p in parts if p[1] is not None]
    if len(fields) != 1 or fields[0][1] not in ('', '0'):
        raise ValueError(
            f'filename_tmpl={filename_tmpl!r} must contain one replacement '
            'field for the step, like CheckpointHook\'s default '
            '"iter_{}.pth" (or "iter_{:06d}.pth").')
    regex = ''
    for literal, field, _, _ in parts:
        regex += re.escape(literal)
        if field is not None:
            regex += r'\s*(\d+)'
    return re.compile(regex)


def _read_pointer(pointer: str) -> Optional[str]:
    if not osp.isfile(pointer):
        return None
    try:
        with open(pointer) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return ''


def repair_last_checkpoint(
        work_dir: str,
        ckpt_dirs: Optional[List[str]] = None,
        filename_tmpl: str = 'iter_{}.pth') -> Optional[str]:
    """Make ``work_dir/last_checkpoint`` name the newest complete checkpoint.

    Call before mmengine reads the pointer (``Runner.load_or_resume``), on
    one process only. "Newest" is the most recently modified: the pointer's
    target unless a complete checkpoint matching ``filename_tmpl`` was
    written after it (a kill between the checkpoint and the pointer update).
    A pointer to a missing or truncated file falls back to the newest
    complete checkpoint, or is removed (fresh start) when there is none.
    Temporary files of killed writers in ``ckpt_dirs`` are deleted.

    Args:
        work_dir (str): The runner's work dir, holding ``last_checkpoint``.
        ckpt_dirs (list[str], optional): Directories holding the checkpoints.
            Defaults to None, meaning ``[work_dir]``.
        filename_tmpl (str): Checkpoint name template, as in
            ``CheckpointHook``. Defaults to 'iter_{}.pth'.

    Returns:
        str or None: The checkpoint ``last_checkpoint`` names afterwards.
    """
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    target = _read_pointer(pointer)
    dirs = list(ckpt_dirs or [work_dir])
    if target:
        dirs.append(osp.dirname(target) or '.')
    pattern = _template_regex(filename_tmpl)
    candidates = []
    for dirname in dict.fromkeys(osp.normpath(d) for d in dirs):
        if not osp.isdir(dirname):
            continue
        for name in os.listdir(dirname):
            path = osp.join(dirname, name)
            if is_temp_file(name):
                print_log(
                    f'Removing {path}, left by a checkpoint write that '
                    'was killed before it completed.',
                    logger='current')
                os.remove(path)
            elif pattern.fullmatch(name) and is_complete_checkpoint(path):
                candidates.append(path)
    target_ok = is_complete_checkpoint(target)
    if target_ok:
        target_mtime = os.stat(target).st_mtime_ns
        newer = [
            p for p in candidates if os.stat(p).st_mtime_ns > target_mtime
            and not osp.samefile(p, target)
        ]
        if not newer:
            return target
        candidates = newer
    if target is not None and not target_ok:
        print_log(
            f'{pointer} names {target!r}, which is missing or incomplete '
            '(a run killed while writing it).',
            logger='current',
            level=logging.WARNING)
    if not candidates:
        if target is not None:
            print_log(
                f'No complete checkpoint to resume from: removing '
                f'{pointer}; training starts from scratch.',
                logger='current',
                level=logging.WARNING)
            os.remove(pointer)
        return None
    newest = max(candidates, key=lambda p: os.stat(p).st_mtime_ns)
    print_log(
        f'Pointing {pointer} at {newest}, the newest complete '
        'checkpoint.',
        logger='current',
        level=logging.WARNING)
    atomic_write(newest, pointer)
    return newest
