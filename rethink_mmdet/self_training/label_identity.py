"""What makes two labeling runs the same run, so that a rerun is safe.

A pseudo-labeling job is requeued (SLURM preemption) or restarted by a study
like any long job: rerunning ``tools/pseudo_label.py`` with the same
arguments must resume an interrupted store and leave a finished one alone
(exit 0, nothing done). Rerunning it with a *different* teacher, config,
source or score floor on the same ``--out`` would mix two label sets (or
pass off old labels as new ones), so it is refused with the differences
named.

The identity of a run (:func:`run_identity`) is what decides the labels:

- ``teacher.checkpoint_sha256`` (sha256 of the checkpoint file; a URL is
  compared by its string), with ``checkpoint_size`` / ``checkpoint_mtime_ns``
  so that an unchanged file is not hashed again on every rerun;
- ``teacher.config_sha256``: sha256 of the teacher's ``model`` config and
  its test pipeline as canonical JSON (launch settings such as
  ``launcher`` or ``env_cfg`` that differ between a 1-process and an
  8-process run of the same teacher are not part of it);
- ``source``: its ``kind``, ``path``, image ``root``, ``num_images`` and
  ``listing_sha256`` (the ids and paths of the listing);
- ``score_floor``.

It is written into the store's ``meta.json`` and, while chunks are being
written, into ``chunks/run.json`` (so that resuming an interrupted store
with other settings is refused too).
"""
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional

#: File holding the identity of the run that writes ``chunks/``.
RUN_FILE = 'run.json'

#: The teacher and source part of a run's identity, shared by the
#: detection and the segmentation labeler: (meta section, key, what it is
#: called in messages), in message order.
TEACHER_SOURCE_KEYS = (
    ('teacher', 'checkpoint_sha256', 'teacher checkpoint (sha256)'),
    ('teacher', 'config_sha256',
     'teacher config (sha256 of its model and test pipeline)'),
    ('source', 'kind', 'source kind'),
    ('source', 'path', 'source'),
    ('source', 'root', 'image root (--img-root)'),
    ('source', 'num_images', 'number of source images'),
    ('source', 'listing_sha256', 'source listing (sha256 of ids and paths)'),
)
#: The detection labeler's identity keys, in message order.
IDENTITY_KEYS = TEACHER_SOURCE_KEYS + (
    (None, 'score_floor', 'score floor (--score-thr)'), )


class StoreMismatchError(ValueError):
    """A store was written by a run with other settings than this one."""


def file_sha256(path: str) -> Optional[str]:
    """Hex sha256 of a local file, None for a remote one (URL)."""
    if not osp.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_identity(checkpoint: str, recorded: Optional[dict] = None):
    """``checkpoint``, ``checkpoint_sha256``, ``checkpoint_size`` and
    ``checkpoint_mtime_ns`` of a checkpoint; the hash is taken from
    ``recorded`` (a meta ``teacher`` section) when path, size and mtime
    are those recorded there."""
    out = dict(checkpoint=checkpoint, checkpoint_sha256=None)
    if not osp.isfile(checkpoint):
        return out
    st = os.stat(checkpoint)
    out.update(checkpoint_size=st.st_size, checkpoint_mtime_ns=st.st_mtime_ns)
    recorded = recorded or {}
    same_file = all(
        recorded.get(k) == out[k]
        for k in ('checkpoint', 'checkpoint_size', 'checkpoint_mtime_ns'))
    out['checkpoint_sha256'] = (
        recorded.get('checkpoint_sha256') if same_file
        and recorded.get('checkpoint_sha256') else file_sha256(checkpoint))
    return out


def config_sha256(model_cfg: dict, pipeline: list) -> str:
    """sha256 of the teacher's model config and test pipeline (canonical
    JSON; values JSON cannot hold are written with ``str``)."""
    text = json.dumps(
        dict(model=model_cfg, pipeline=pipeline),
        sort_keys=True,
        default=str,
        separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def run_identity(teacher: dict, source: dict, score_floor: float) -> dict:
    """The identity of a run: the ``teacher`` and ``source`` meta sections
    (as written into ``meta.json``) and the score floor."""
    return dict(
        teacher=dict(teacher),
        source=dict(source),
        score_floor=float(score_floor))


def _get(identity: dict, section: Optional[str], key: str):
    part = identity.get(section) if section else identity
    return part.get(key) if isinstance(part, dict) else None


def _compared(identity: dict, section, key):
    """The value compared; a URL checkpoint (no sha256) by its string."""
    value = _get(identity, section, key)
    if key == 'checkpoint_sha256' and value is None:
        return 'url:' + str(_get(identity, 'teacher', 'checkpoint'))
    return value


def identity_differences(recorded: dict,
                         current: dict,
                         keys: tuple = IDENTITY_KEYS) -> List[str]:
    """One line per identity key that differs (or that ``recorded`` lacks,
    e.g. a store of an older rethink_mmdet); empty when the runs match.
    ``keys`` are ``(section, key, name)`` triples as :data:`IDENTITY_KEYS`
    (the segmentation labeler passes its own, with its threshold, scales
    and flip)."""
    out = []
    for section, key, what in keys:
        got, want = (_compared(recorded, section,
                               key), _compared(current, section, key))
        if _get(recorded, section, key) is None and key != \
                'checkpoint_sha256':
            out.append(f'{what}: not recorded in the store (written by an '
                       f'older version?), now {want!r}')
        elif got != want:
            extra = ''
            if key == 'checkpoint_sha256':
                extra = (f' (store: {_get(recorded, "teacher", "checkpoint")}'
                         f', now: {_get(current, "teacher", "checkpoint")})')
            out.append(f'{what}: store {got!r}, now {want!r}{extra}')
    return out


def check_same_run(recorded: dict,
                   current: dict,
                   store: str,
                   what: str,
                   keys: tuple = IDENTITY_KEYS) -> None:
    """Raise :class:`StoreMismatchError` naming every difference between
    the ``recorded`` and the ``current`` run identity.

    Args:
        recorded (dict): The identity (or whole meta) in the store.
        current (dict): This run's :func:`run_identity`.
        store (str): The store directory, for the message.
        what (str): ``'finished'`` or ``'interrupted'``, for the message.
        keys (tuple): The identity keys compared. Defaults to
            :data:`IDENTITY_KEYS` (the detection labeler's).
    """
    diffs = identity_differences(recorded, current, keys)
    if diffs:
        lines = '\n  - '.join(diffs)
        raise StoreMismatchError(
            f'{store} is a {what} pseudo-label store made with other '
            f'settings than this run:\n  - {lines}\nRerun with the '
            f'settings recorded in the store to '
            f'{"leave it as it is" if what == "finished" else "resume it"}'
            ', choose another --out, or remove the store to label again.')
