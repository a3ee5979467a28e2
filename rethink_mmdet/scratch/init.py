# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""He et al. 2019 initialization for training from scratch, and the weight
statistics that show it was applied.

He, Girshick, Dollar 2019 ("Rethinking ImageNet Pre-training", arXiv
1811.08883) train every detector from random initialization. Sec. 3.1
("Normalization") names the two ingredients a network needs to train from
scratch: *normalized parameter initialization* (MSRA, i.e. He et al. 2015)
and activation normalization (GN/SyncBN, never frozen BN). Sec. 4 keeps
"all other hyper-parameters" of Detectron, so the detection heads keep
Detectron's own initialization. :func:`he_init` therefore does:

- every convolution (``nn.Conv1d/2d/3d``, transposed convs, mmcv
  ``DeformConv2d``/``ModulatedDeformConv2d``): MSRA normal, ``mode='fan_out'``,
  ReLU gain, i.e. ``N(0, 2 / fan_out)`` with ``fan_out = out_channels * kh *
  kw`` (torch's and mmengine's ``kaiming_init`` convention); conv bias 0;
- every normalization layer (BN, SyncBN, GN, IN, LN): weight 1, bias 0,
  running statistics reset;
- optionally (``zero_init_residual=True``, off by default, *not* used by He
  et al. nor by MMDetection's scratch configs): weight 0 on the last norm of
  each mmdet ResNet ``BasicBlock``/``Bottleneck`` (Goyal et al. 2017,
  Sec. 5.1, "zero gamma"), so that each residual block starts as identity;

only inside the sub-modules named in ``modules`` (default ``('backbone',)``,
the part that ImageNet pre-training would otherwise initialize), and never
for convs whose name matches ``exclude`` (default: DCN ``conv_offset``
layers, which must start at zero offsets). Linear layers and all other
modules keep the model's own ``init_cfg``: with MMDetection's detectors this
is Detectron's recipe (FPN Xavier, RPN/RetinaNet convs ``Normal(std=0.01)``
with RetinaNet's classification bias prior 0.01, box classifier/regressor
``Normal(0.01)``/``Normal(0.001)``), identical in a scratch arm and its
pre-trained counterpart -- the controlled comparison of He et al. differs in
the backbone initialization only. The convs of MMDetection's GN box head
(4conv1fc) and mask head are ``ConvModule``s, which already initialize
themselves with MSRA fan_out, as Detectron's GN heads do (``MSRAFill``).
Add ``'neck'`` (or head paths) to ``modules`` to put MSRA init on the FPN
too (Detectron and MMDetection give it Xavier init).
"""
import fnmatch
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.instancenorm import _InstanceNorm

from .names import under

__all__ = [
    'ScratchInitError', 'he_init', 'kaiming_fan_out_std', 'weight_stats',
    'format_weight_stats'
]

CONV_TYPES = (_ConvNd, )
NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
try:  # mmcv's own ops are optional (mmcv-lite has none)
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
    from mmcv.ops import SyncBatchNorm as MMCVSyncBatchNorm
    CONV_TYPES += (DeformConv2d, ModulatedDeformConv2d)
    NORM_TYPES += (MMCVSyncBatchNorm, )
except ImportError:  # pragma: no cover
    pass

# DCN offset convs are zero-initialized on purpose (Dai et al. 2017): a DCN
# starts as a regular conv. They are nn.Conv2d named ``conv_offset``.
DEFAULT_INIT_EXCLUDE = ('*conv_offset', )
# Layers with fewer weights than this are counted but left out of the
# std / Kaiming-std summary: their sample std is too noisy to compare.
MIN_NUMEL_FOR_STD = 256


class ScratchInitError(ValueError):
    """:func:`he_init` was asked for something the model does not have."""


def kaiming_fan_out_std(weight: torch.Tensor) -> float:
    """The std of MSRA init with ReLU gain and ``mode='fan_out'``.

    He et al. 2015 ("Delving Deep into Rectifiers", Sec. 2.2):
    ``std = sqrt(2 / n)``, with ``n`` the fan of the backward pass,
    ``fan_out = weight.shape[0] * kh * kw`` -- the fan that
    :func:`torch.nn.init.kaiming_normal_` uses with ``mode='fan_out'``.

    Args:
        weight (torch.Tensor): A conv weight of at least 2 dimensions.

    Returns:
        float: The expected standard deviation.
    """
    fan_out = weight.shape[0] * math.prod(weight.shape[2:])
    return math.sqrt(2.0 / fan_out)


def _excluded(name: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)


def _zero_init_residual(module: nn.Module, prefix: str) -> int:
    """Zero the last norm of every mmdet ResNet block; returns the count."""
    from mmdet.models.backbones.resnet import BasicBlock, Bottleneck
    count = 0
    for block in module.modules():
        if isinstance(block, Bottleneck):
            constant_init(block.norm3, 0)
            count += 1
        elif isinstance(block, BasicBlock):
            constant_init(block.norm2, 0)
            count += 1
    if count == 0:
        raise ScratchInitError(
            f"he_init(zero_init_residual=True): no mmdet ResNet BasicBlock or "
            f"Bottleneck under '{prefix}'. Set ScratchInitHook("
            f"zero_init_residual=False) or list the module that holds the "
            f"residual blocks in modules=...")
    return count


@torch.no_grad()
def he_init(model: nn.Module,
            modules: Sequence[str] = ('backbone', ),
            zero_init_residual: bool = False,
            exclude: Sequence[str] = DEFAULT_INIT_EXCLUDE) -> Dict[str, int]:
    """Apply He et al. 2019's from-scratch initialization in place.

    See the module docstring for exactly what is re-initialized.

    Args:
        model (nn.Module): The (unwrapped) detector.
        modules (Sequence[str]): Dotted names of the sub-modules to
            re-initialize, relative to ``model`` (``''`` = the whole model).
            Defaults to ``('backbone',)``.
        zero_init_residual (bool): Zero the last norm weight of each mmdet
            ResNet residual block. Defaults to False.
        exclude (Sequence[str]): ``fnmatch`` patterns of full conv names to
            leave alone. Defaults to ``('*conv_offset',)``.

    Returns:
        dict: Counts ``convs``, ``norms`` and ``zero_init_blocks``.

    Raises:
        ScratchInitError: If a name in ``modules`` is not a sub-module of
            ``model``, or ``zero_init_residual`` finds no residual block.
    """
    counts = dict(convs=0, norms=0, zero_init_blocks=0)
    for prefix in modules:
        try:
            root = model.get_submodule(prefix)
        except AttributeError:
            children = ', '.join(name for name, _ in model.named_children())
            raise ScratchInitError(
                f"he_init: {type(model).__name__} has no sub-module "
                f"'{prefix}' (its children: {children}). Fix "
                f"ScratchInitHook(modules=...) to name existing modules."
            ) from None
        for name, module in root.named_modules(prefix=prefix):
            if isinstance(module, CONV_TYPES):
                if _excluded(name, exclude):
                    continue
                # He et al. 2015 / He et al. 2019 Sec. 3.1: MSRA init.
                kaiming_init(
                    module,
                    mode='fan_out',
                    nonlinearity='relu',
                    distribution='normal')
                counts['convs'] += 1
            elif isinstance(module, NORM_TYPES):
                if getattr(module, 'weight', None) is not None or getattr(
                        module, 'bias', None) is not None:
                    constant_init(module, 1, bias=0)
                if getattr(module, 'track_running_stats', False):
                    module.reset_running_stats()
                counts['norms'] += 1
        if zero_init_residual:
            counts['zero_init_blocks'] += _zero_init_residual(root, prefix)
    return counts


def _stats_group(name: str, stage_names: Dict[str, str]) -> str:
    """Report group of a module: backbone stem / res stages, each head."""
    parts = name.split('.')
    if parts[0] == 'backbone' and len(parts) > 1:
        return 'backbone.' + stage_names.get(parts[1], parts[1])
    if parts[0] == 'roi_head' and len(parts) > 1:
        return '.'.join(parts[:2])
    return parts[0]


def weight_stats(model: nn.Module, reinitialized: Sequence[str] = ()):
    """Per-stage statistics of conv and norm weights.

    Groups: ``backbone.stem`` (ResNet ``conv1``/``norm1``/``stem``),
    ``backbone.res2`` .. ``backbone.res5`` (ResNet ``layer1`` .. ``layer4``,
    Detectron's names), every other backbone child, ``neck``, each head
    (``rpn_head``, ``roi_head.bbox_head``, ``roi_head.mask_head``,
    ``bbox_head``, ...).

    Args:
        model (nn.Module): The (unwrapped) detector.
        reinitialized (Sequence[str]): Sub-module names :func:`he_init` was
            applied to; groups under them are marked ``he=True``.
            Defaults to ().

    Returns:
        list[dict]: One dict per group, in model order, with ``group``,
        ``he`` (bool), ``convs`` (number of conv layers), ``conv_mean``
        (mean of all conv weights), ``std_ratio_median/min/max`` (per-layer
        ``std(w) / sqrt(2 / fan_out)`` over layers with at least 256
        weights, None if none), ``norms``, ``norm_weight_mean`` and
        ``norm_bias_mean`` (None without affine norms).
    """
    backbone = getattr(model, 'backbone', None)
    stage_names = {'conv1': 'stem', 'stem': 'stem'}
    stage_names[getattr(backbone, 'norm1_name', 'norm1')] = 'stem'
    for i, layer in enumerate(getattr(backbone, 'res_layers', [])):
        stage_names[layer] = f'res{i + 2}'
    groups: Dict[str, dict] = {}
    for name, module in model.named_modules():
        is_conv = isinstance(module, CONV_TYPES)
        is_norm = isinstance(module, NORM_TYPES)
        if not (is_conv or is_norm) or not name:
            continue
        key = _stats_group(name, stage_names)
        group = groups.setdefault(
            key,
            dict(
                group=key,
                he=False,
                convs=0,
                weights=[],
                ratios=[],
                norms=0,
                gammas=[],
                betas=[]))
        group['he'] |= under(name, reinitialized)
        weight = getattr(module, 'weight', None)
        if is_conv and weight is not None:
            w = weight.detach().float()
            group['convs'] += 1
            group['weights'].append(w.flatten())
            if w.numel() >= MIN_NUMEL_FOR_STD:
                group['ratios'].append(w.std().item() / kaiming_fan_out_std(w))
        elif is_norm:
            group['norms'] += 1
            if weight is not None:
                group['gammas'].append(weight.detach().float().flatten())
            if getattr(module, 'bias', None) is not None:
                group['betas'].append(module.bias.detach().float().flatten())
    stats = []
    for group in groups.values():
        ratios = sorted(group.pop('ratios'))
        weights, gammas, betas = (
            group.pop(k) for k in ('weights', 'gammas', 'betas'))
        group['conv_mean'] = torch.cat(
            weights).mean().item() if weights else None
        group['std_ratio_median'] = ratios[len(ratios) //
                                           2] if ratios else None
        group['std_ratio_min'] = ratios[0] if ratios else None
        group['std_ratio_max'] = ratios[-1] if ratios else None
        group['norm_weight_mean'] = torch.cat(
            gammas).mean().item() if gammas else None
        group['norm_bias_mean'] = torch.cat(
            betas).mean().item() if betas else None
        stats.append(group)
    return stats


def _fmt(value: Optional[float], spec: str) -> str:
    return '-' if value is None else format(value, spec)


def format_weight_stats(stats: List[dict]) -> str:
    """Render :func:`weight_stats` as a compact fixed-width table.

    ``std/kaiming`` is ``std(w) / sqrt(2 / fan_out)`` per conv layer (median
    [min, max]); 1.00 is MSRA init. ``init`` is ``he`` for groups
    re-initialized by :func:`he_init` and ``model`` for groups that keep the
    model's own ``init_cfg``.

    Args:
        stats (list[dict]): The output of :func:`weight_stats`.

    Returns:
        str: The table, one line per group.
    """
    lines = [
        f'{"group":<22} {"init":<5} {"convs":>5} {"w.mean":>9} '
        f'{"std/kaiming med [min, max]":>27} {"norms":>5} {"gamma":>6} '
        f'{"beta":>7}'
    ]
    for s in stats:
        ratio = ('-' if s['std_ratio_median'] is None else
                 f'{s["std_ratio_median"]:.3f} [{s["std_ratio_min"]:.3f}, '
                 f'{s["std_ratio_max"]:.3f}]')
        lines.append(f'{s["group"]:<22} {"he" if s["he"] else "model":<5} '
                     f'{s["convs"]:>5} {_fmt(s["conv_mean"], "+.5f"):>9} '
                     f'{ratio:>27} {s["norms"]:>5} '
                     f'{_fmt(s["norm_weight_mean"], ".3f"):>6} '
                     f'{_fmt(s["norm_bias_mean"], "+.3f"):>7}')
    return '\n'.join(lines)
