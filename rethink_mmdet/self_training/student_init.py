# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Where a self-training student's weights start (Zoph et al. 2020).

Zoph et al. 2020, Sec. 3.2 and App. C [V]: the student is initialized from
the teacher's weights in every experiment; App. C (Table 10) compares it
with a student from random init, which needs on average 2.25 times as long
to reach the same AP. One switch, ``student_init``, chooses:

- ``'teacher'`` (the default): the teacher's final checkpoint of the same
  round (round ``r + 1``'s teacher is round ``r``'s student);
- ``'random'``: the student config's own init (random, or its backbone
  ``init_cfg``), App. C's comparison;
- a checkpoint path (or URL): that checkpoint, which must hold the
  student's detector.

It is read, the first one given winning, from ``tools/self_train.py
--student-init``, a study arm's ``student_init`` (the study passes it as
``--student-init``) and the student config's top-level ``student_init``
key; all three go through :func:`student_init_value`.

**How the weights load.** :func:`prepare_student_init` writes the source's
weights to ``round{r}/student_init.pth`` and :func:`apply_student_init`
points the student config's ``load_from`` at it with ``resume = False``:
mmengine's ordinary load, so the optimizer, the LR schedule and the
iteration start fresh (with ``resume = True``, as the He et al. runtimes
set it, mmengine would *resume* from ``load_from``: the teacher's iteration
and optimizer). An interrupted student resumes from its own work dir
(tools/train.py's ``--resume`` drops ``load_from`` and resumes
``work_dir/last_checkpoint``). The file holds the source's
``state_dict`` without the state that starts fresh
(:data:`FRESH_STATE_PREFIXES`: the loss-normalization buffers
``loss_norm.*`` -- a round-2 teacher is a student; its averages would
otherwise be loaded and the student's normalizer start warm -- and a joint
model's ``cls_head.*``) and, of the source's ``meta``, its
``scratch_guard`` mark and ``dataset_meta`` (:data:`KEPT_META`; the mark
keeps a scratch lineage scratch:
:class:`~rethink_mmdet.scratch.guard_hook.ScratchGuardHook` accepts a
teacher checkpoint that a guarded from-scratch run of the same detector
wrote; the source's iteration and config are left out), with
``meta['student_init']`` recording what it is.

**A segmentation student** (``rethink_mmdet.seg.SelfTrainingSegmentor``,
an mmseg-scoped config) is prepared the same way: the model is built in
the config's ``default_scope``, and its checkpoint keys are the plain
segmentor's as a detection student's are the plain detector's.

**A checkpoint of another model** is refused before the student trains:
its parameter names and shapes are compared with the student's model
(mmengine's ``load_from`` only warns on a mismatch and trains the rest from
random init).
"""
import copy
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import CheckpointLoader
from mmengine.utils import import_modules_from_strings
from torch import nn

from .joint import JOINT_STATE_PREFIXES
from .student import DETECTOR_KEY

__all__ = [
    'STUDENT_INIT_KEY', 'TEACHER_INIT', 'RANDOM_INIT', 'STUDENT_INITS',
    'DEFAULT_STUDENT_INIT', 'STUDENT_INIT_FILE', 'StudentInitError',
    'student_init_value', 'init_source', 'student_weights', 'check_same_model',
    'prepare_student_init', 'apply_student_init'
]

#: Top-level key of a student config (and of a study arm), and the
#: ``--student-init`` argument of tools/self_train.py.
STUDENT_INIT_KEY = 'student_init'
#: Start from the teacher's final weights (Zoph et al. 2020, Sec. 3.2).
TEACHER_INIT = 'teacher'
#: Start from the student config's own init (App. C's comparison).
RANDOM_INIT = 'random'
STUDENT_INITS = (TEACHER_INIT, RANDOM_INIT)
DEFAULT_STUDENT_INIT = TEACHER_INIT
#: The prepared checkpoint, in the round's directory.
STUDENT_INIT_FILE = 'student_init.pth'
#: ``meta`` key of the prepared checkpoint: what it was made from.
META_KEY = 'student_init'
WHERE = ('tools/self_train.py --student-init, a study arm\'s student_init '
         'or the student config\'s top-level student_init')
#: ``meta`` keys of the source kept in the prepared checkpoint: the scratch
#: guard's mark (``SCRATCH_META_KEY``) and the dataset's classes.
KEPT_META = ('scratch_guard', 'dataset_meta')
#: State of a student that starts fresh whatever it is initialized from
#: (the loss normalization's moving averages; a joint model's
#: classification head): never taken from the source, never required in it.
FRESH_STATE_PREFIXES = JOINT_STATE_PREFIXES
#: Scope of a student config without ``default_scope``.
DEFAULT_SCOPE = 'mmdet'
#: Names listed in a mismatch message, per kind.
SHOWN = 3


class StudentInitError(ValueError):
    """A ``student_init`` that cannot start the student as asked."""


def _is_url(value: str) -> bool:
    return '://' in value


def student_init_value(cfg: Optional[Config] = None,
                       override: Optional[str] = None) -> str:
    """The ``student_init`` of a run: ``override`` (``--student-init``),
    else the config's top-level ``student_init``, else ``'teacher'``.

    Args:
        cfg (Config, optional): The student config. Defaults to None.
        override (str, optional): ``--student-init``. Defaults to None.

    Returns:
        str: ``'teacher'``, ``'random'`` or a checkpoint path / URL.

    Raises:
        StudentInitError: A value that is none of these (a path that is no
            file).
    """
    value = override
    if value is None and cfg is not None:
        value = cfg.get(STUDENT_INIT_KEY)
    if value is None:
        return DEFAULT_STUDENT_INIT
    if not isinstance(value, str) or not value:
        raise StudentInitError(
            f'student_init={value!r} ({WHERE}): use {TEACHER_INIT!r} (the '
            f'default, Zoph et al. 2020 Sec. 3.2), {RANDOM_INIT!r} (App. C) '
            'or a checkpoint path.')
    if value in STUDENT_INITS or _is_url(value):
        return value
    if not osp.isfile(osp.expanduser(value)):
        raise StudentInitError(
            f'student_init={value!r} ({WHERE}): not {TEACHER_INIT!r}, not '
            f'{RANDOM_INIT!r} and no such checkpoint file. Fix the path, or '
            f'use {TEACHER_INIT!r} (the teacher\'s final weights, the '
            f'default) or {RANDOM_INIT!r}.')
    return osp.abspath(osp.expanduser(value))


def init_source(value: str, teacher_checkpoint: str) -> Optional[str]:
    """The checkpoint ``value`` starts the student from (None: random)."""
    if value == TEACHER_INIT:
        return teacher_checkpoint
    if value == RANDOM_INIT:
        return None
    return value


def student_weights(checkpoint: dict) -> 'OrderedDict[str, torch.Tensor]':
    """The weights of a loaded checkpoint as the student loads them: its
    ``state_dict`` (or the dict itself), without a ``module.`` prefix (as
    mmengine's load) and without the state that starts fresh in every
    student (:data:`FRESH_STATE_PREFIXES`: the loss normalization's
    ``loss_norm.*`` buffers, a joint model's ``cls_head.*``)."""
    state = checkpoint.get('state_dict', checkpoint)
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if isinstance(
                value,
                torch.Tensor) and not key.startswith(FRESH_STATE_PREFIXES):
            out[key] = value
    return out


def _build_model(cfg: Config) -> nn.Module:
    """The student's model as the Runner builds it (weights not loaded):
    mmengine's root ``MODELS`` in the config's ``default_scope`` (mmdet's
    when it has none), so a detection student (mmdet) and a segmentation
    student (``default_scope = 'mmseg'``, ``SelfTrainingSegmentor``) both
    build."""
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', DEFAULT_SCOPE)):
        return MODELS.build(copy.deepcopy(cfg.model))


def _some(names: List[str]) -> str:
    shown = ', '.join(names[:SHOWN])
    return shown + (', ...' if len(names) > SHOWN else '')


def check_same_model(model: nn.Module, weights: Dict[str, torch.Tensor],
                     value: str, source: str) -> None:
    """Refuse ``weights`` that are not the student's detector: a parameter
    or buffer of ``model`` missing from them or of another shape. Keys the
    student lacks are allowed (logged): a teacher may carry more (e.g. a
    jointly trained classification head).

    Raises:
        StudentInitError: Naming the key, the mismatched names and the fix.
    """
    expected = {
        k: tuple(v.shape)
        for k, v in model.state_dict().items()
        if not k.startswith(FRESH_STATE_PREFIXES)
    }
    missing = [k for k in expected if k not in weights]
    shapes = [
        f'{k}: {tuple(weights[k].shape)} there, {expected[k]} here'
        for k in expected
        if k in weights and tuple(weights[k].shape) != expected[k]
    ]
    extra = [k for k in weights if k not in expected]
    what = type(model).__name__
    noun = getattr(model, 'INNER_KEY', DETECTOR_KEY)  # or 'segmentor'
    inner = getattr(model, noun, None)
    if isinstance(inner, nn.Module):
        what += f' around {type(inner).__name__}'
    if missing or shapes:
        parts = []
        if missing:
            parts.append(f'{len(missing)} of the student\'s '
                         f'{len(expected)} weights are not in it '
                         f'({_some(missing)})')
        if shapes:
            parts.append(f'{len(shapes)} have another shape ({_some(shapes)})')
        if extra:
            parts.append(f'{len(extra)} of its keys are not in the student '
                         f'({_some(extra)})')
        raise StudentInitError(
            f'student_init={value!r} ({WHERE}): {source} is not a checkpoint '
            f'of this student\'s {noun} ({what}): ' + '; '.join(parts) +
            '. mmengine\'s load_from would only warn and '
            'train those from random init. Fix: a teacher config '
            f'(--teacher-config) that builds the same {noun} as the '
            f'student\'s model, a checkpoint of that {noun}, or '
            f'student_init={RANDOM_INIT!r} (a student from random init, '
            'Zoph et al. 2020 App. C).')
    if extra:
        print_log(
            f'student_init: {len(extra)} keys of {source} are not in the '
            f'student and are not loaded ({_some(extra)}).',
            logger='current')


def prepare_student_init(cfg: Config, source: str, out: str,
                         value: str) -> str:
    """Write the student's start weights from ``source`` to ``out``.

    Args:
        cfg (Config): The student config (its ``model`` is built to
            compare names and shapes).
        source (str): The checkpoint (the teacher's, or a path / URL).
        out (str): The file to write (``round{r}/student_init.pth``).
        value (str): The ``student_init`` value, for messages and the
            record.

    Returns:
        str: ``out``.

    Raises:
        StudentInitError: If ``source`` is not the student's detector.
    """
    checkpoint = CheckpointLoader.load_checkpoint(source, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise StudentInitError(
            f'student_init={value!r} ({WHERE}): {source} holds a '
            f'{type(checkpoint).__name__}, not a checkpoint dict. Give an '
            'mmengine checkpoint of the student\'s detector.')
    weights = student_weights(checkpoint)
    check_same_model(_build_model(cfg), weights, value, source)
    state = checkpoint.get('state_dict', checkpoint)
    dropped = sorted(k for k in state if k.startswith(FRESH_STATE_PREFIXES))
    # of the source's meta only what the load needs: the scratch guard's
    # mark and the classes; its iteration, seed and config would tell a
    # resume (load_from with resume=True) it is a run to continue
    source_meta = checkpoint.get('meta') or {}
    meta = {k: source_meta[k] for k in KEPT_META if k in source_meta}
    meta[META_KEY] = dict(
        init=value,
        source=source if _is_url(source) else osp.abspath(source),
        dropped=dropped)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    torch.save(dict(meta=meta, state_dict=weights), tmp)
    os.replace(tmp, out)
    return out


def apply_student_init(cfg: Config, value: str,
                       init_checkpoint: Optional[str]) -> None:
    """Set the student config's ``student_init`` record, and for a start
    from a checkpoint ``load_from`` (with ``resume = False``: a load, not a
    resume).

    Raises:
        StudentInitError: If the config sets ``load_from`` itself (the
            switch owns it).
    """
    own = cfg.get('load_from')
    if own:
        raise StudentInitError(
            f'the student config sets load_from={own!r} while '
            f'student_init={value!r} ({WHERE}) decides where the student '
            'starts: remove load_from and give the checkpoint as '
            f'student_init={own!r} (or --student-init {own}).')
    cfg[STUDENT_INIT_KEY] = value
    if init_checkpoint is not None:
        cfg.load_from = init_checkpoint
        cfg.resume = False
