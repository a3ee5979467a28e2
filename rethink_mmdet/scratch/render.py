# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Scratch models written out: any mmdet detector config rendered as a
config file holding the plain GN-all or SyncBN-all detector (He et al.
2019, Sec. 3-4), as mmdet's own ``configs/scratch`` write the GN model out.

:func:`convert_to_scratch` (:mod:`.norm`) converts the ``model`` of a
config; :func:`render_scratch_model` writes the result as config source with
a header naming the source config and the command that renders it
(``tools/misc/render_scratch_model.py``). The files the package's configs
inherit are listed in :data:`RENDERED`; ``tests/scratch/test_render.py``
checks that each committed file is this module's output, so a file is
re-rendered, never edited (``render_scratch_model.py --all``).
"""
import keyword
import os.path as osp
import textwrap
from typing import Any, Dict, Tuple

from mmengine.config import Config
from mmengine.config.utils import _get_package_and_cfg_path
from mmengine.utils import get_installed_path
from yapf.yapflib.yapf_api import FormatCode

from .norm import convert_to_scratch
from .norm_cfg import ROI_SYNC_BN, check_norm

__all__ = [
    'RENDERED', 'TOOL', 'scratch_model_cfg', 'model_source',
    'render_scratch_model', 'rendered_text', 'write_rendered'
]

#: The command-line tool that renders these files (repo-relative path).
TOOL = 'tools/misc/render_scratch_model.py'
#: The yapf style of the repository's setup.cfg, so that a rendered file
#: passes ``tools/lint.sh`` as written.
YAPF_STYLE = ('{based_on_style: pep8, blank_line_before_nested_class_or_def: '
              'true, split_before_expression_after_opening_paren: true}')
#: Every rendered file of the package: path under ``configs/`` -> (source
#: config, norm, num_groups). A source is ``mmdet::...`` or a path
#: relative to the repository root.
RENDERED: Dict[str, Tuple[str, str, int]] = {
    '_base_/models/faster-rcnn_r50_fpn_gn-all.py':
    ('mmdet::_base_/models/faster-rcnn_r50_fpn.py', 'GN', 32),
    '_base_/models/faster-rcnn_r50_fpn_syncbn-all.py':
    ('mmdet::_base_/models/faster-rcnn_r50_fpn.py', 'SyncBN', 32),
    '_base_/models/mask-rcnn_r50_fpn_gn-all.py':
    ('mmdet::_base_/models/mask-rcnn_r50_fpn.py', 'GN', 32),
    '_base_/models/mask-rcnn_r50_fpn_syncbn-all.py':
    ('mmdet::_base_/models/mask-rcnn_r50_fpn.py', 'SyncBN', 32),
    '_base_/models/cascade-mask-rcnn_r50_fpn_gn-all.py':
    ('mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py', 'GN', 32),
    '_base_/models/retinanet_r50_fpn_syncbn-all.py':
    ('mmdet::_base_/models/retinanet_r50_fpn.py', 'SyncBN', 32),
    '_base_/models/retinanet_r18-tiny_fpn_gn-all.py':
    ('configs/_base_/models/retinanet_r18-tiny_fpn.py', 'GN', 8),
    '_base_/models/mask-rcnn_r18-tiny_fpn_gn-all.py':
    ('configs/_base_/models/mask-rcnn_r18-tiny_fpn.py', 'GN', 8),
}

_HEADER = """\
The model of {source} converted to {norm}-all for training
from random initialization (He et al. 2019, "Rethinking ImageNet
Pre-training", Sec. 3 "Normalization" and Sec. 4: {what} in the backbone,
the FPN and the heads; RoI heads: a 4conv1fc box head and the mask head; the
RPN head without norm; nothing frozen; no pre-trained weights). The plain
mmdet detector written out: checkpoints, init_detector and tools/test.py are
mmdet's. Weight decay on the norm parameters (none, Detectron's
WEIGHT_DECAY_GN = 0) is the optimizer's:
paramwise_cfg=dict(norm_decay_mult=0.), as the He et al. schedules set
it.{syncbn}

Rendered by convert_to_scratch (rethink_mmdet.scratch.render); re-render, do
not edit:"""

_SYNCBN = """ SyncBN needs more than one training process: list
custom_hooks=[dict(type='SyncBNGuardHook')], which refuses a single-process
training run (per-GPU statistics)."""


def _config_path(config: str) -> str:
    """A file path for ``config``; ``pkg::path`` (e.g. ``mmdet::...``) is
    resolved in the installed package's ``.mim/configs``, as mmengine
    resolves ``_base_`` entries."""
    if '::' not in config:
        return config
    package, path = _get_package_and_cfg_path(config)
    return osp.join(get_installed_path(package), '.mim', 'configs', path)


def scratch_model_cfg(config: str,
                      norm: str = 'GN',
                      num_groups: int = 32) -> dict:
    """The ``model`` of ``config`` converted by :func:`convert_to_scratch`.

    Args:
        config (str): An mmdet config path or ``mmdet::...``; it must define
            ``model``.
        norm (str): ``'GN'`` or ``'SyncBN'``. Defaults to ``'GN'``.
        num_groups (int): GroupNorm groups. Defaults to 32.

    Returns:
        dict: The converted model config, a plain ``dict``.
    """
    check_norm(norm, num_groups)
    cfg = Config.fromfile(_config_path(config))
    if cfg.get('model') is None:
        raise ValueError(f'{config} defines no model: give an mmdet detector '
                         'config (or a model base such as '
                         'mmdet::_base_/models/faster-rcnn_r50_fpn.py).')
    return convert_to_scratch(cfg.model.to_dict(), norm, num_groups)


def _source(value: Any) -> str:
    """Python source of a config value (dicts as ``dict(...)``)."""
    if isinstance(value, dict):
        if all(
                isinstance(k, str) and k.isidentifier()
                and not keyword.iskeyword(k) for k in value):
            return 'dict(' + ', '.join(f'{k}={_source(v)}'
                                       for k, v in value.items()) + ')'
        return '{' + ', '.join(f'{_source(k)}: {_source(v)}'
                               for k, v in value.items()) + '}'
    if isinstance(value, list):
        return '[' + ', '.join(_source(v) for v in value) + ']'
    if isinstance(value, tuple):
        inner = ', '.join(_source(v) for v in value)
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f'{value!r} ({type(value).__name__}) cannot be written '
                    'into a config file.')


def model_source(model: dict) -> str:
    """``model = dict(...)`` formatted as the repository's configs are."""
    return FormatCode(
        f'model = {_source(model)}\n', style_config=YAPF_STYLE)[0]


def _comment(text: str) -> str:
    """``text`` as comment lines of <= 79 columns, one paragraph per
    block of lines."""
    paragraphs = [' '.join(p.split()) for p in text.split('\n\n')]
    return ''.join(f'# {line}\n' for p in paragraphs for line in textwrap.wrap(
        p, width=77, break_long_words=False, break_on_hyphens=False))


def _command(source: str, norm: str, num_groups: int, out: str) -> str:
    """The command that renders ``out``, as comment lines of <= 79
    columns."""
    words = [f'python {TOOL}', source, f'--norm {norm}']
    if norm == 'GN':
        words.append(f'--num-groups {num_groups}')
    words.append(f'--out {out}')
    lines = textwrap.wrap(
        ' '.join(words),
        width=70,
        break_long_words=False,
        break_on_hyphens=False)
    return ''.join(f'#   {"  " if i else ""}{line}'
                   f'{" " + chr(92) if i < len(lines) - 1 else ""}\n'
                   for i, line in enumerate(lines))


def render_scratch_model(source: str,
                         norm: str = 'GN',
                         num_groups: int = 32,
                         out: str = 'OUT.py',
                         config: str = None) -> str:
    """The text of a config file holding the scratch model of ``source``.

    Args:
        source (str): The source config as the header names it (``mmdet::``
            or a path relative to where the command runs).
        norm (str): ``'GN'`` or ``'SyncBN'``. Defaults to ``'GN'``.
        num_groups (int): GroupNorm groups. Defaults to 32.
        out (str): The output path as the header names it. Defaults to
            ``'OUT.py'``.
        config (str, optional): Where to read ``source`` from, when it is
            not readable as given (e.g. a repo-relative path read from
            elsewhere). Defaults to None (``source``).

    Returns:
        str: Python source: the header, ``custom_imports`` when the model
        needs the package (``EmptySafeSyncBN``), and ``model = dict(...)``.
    """
    model = scratch_model_cfg(config or source, norm, num_groups)
    what = (f'GroupNorm ({num_groups} groups)'
            if norm == 'GN' else 'SyncBN (RoI heads: EmptySafeSyncBN)')
    header = _comment(
        _HEADER.format(
            source=source,
            norm=norm,
            what=what,
            syncbn=_SYNCBN if norm == 'SyncBN' else ''))
    body = model_source(model)
    imports = ''
    if ROI_SYNC_BN in body:
        imports = ("custom_imports = dict(imports=['rethink_mmdet'], "
                   'allow_failed_imports=False)\n')
    return (header + _command(source, norm, num_groups, out) + imports + body)


def rendered_text(name: str, repo_root: str) -> str:
    """The text of the committed file ``configs/<name>`` of
    :data:`RENDERED`.

    Args:
        name (str): A key of :data:`RENDERED`.
        repo_root (str): The repository (or ``.mim``) root holding
            ``configs/``.
    """
    source, norm, num_groups = RENDERED[name]
    config = source if source.startswith('mmdet::') else osp.join(
        repo_root, source)
    return render_scratch_model(source, norm, num_groups, f'configs/{name}',
                                config)


def write_rendered(repo_root: str) -> list:
    """(Re)write every file of :data:`RENDERED` under
    ``repo_root/configs``; returns the paths written."""
    paths = []
    for name in RENDERED:
        path = osp.join(repo_root, 'configs', name)
        text = rendered_text(name, repo_root)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        paths.append(path)
    return paths
