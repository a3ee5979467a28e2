# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Scratch normalization for any mmdet detector config (He et al. 2019).

He et al. 2019 ("Rethinking ImageNet Pre-training", arXiv 1811.08883),
Sec. 3 ("Normalization", "Convergence") and Sec. 4 ("Architecture"): a
detector trains from random initialization when every frozen BN is replaced
by normalization that works at 2 images per GPU, GroupNorm (32 groups) or
SyncBN, in the backbone, the FPN, a 4conv1fc box head and the mask head (the
RPN head has none); nothing is frozen (Detectron's FREEZE_AT=2 left conv1
and res2 at random init in early scratch runs); no ImageNet weights are
loaded; norm layers start at weight 1, bias 0, and have no weight decay
(Detectron ``WEIGHT_DECAY_GN = 0.0``).

:func:`convert_to_scratch` applies that to an mmdet model config dict;
:mod:`.render` (``tools/misc/render_scratch_model.py``) writes the result
out as a config file, which is how every scratch config of the package
holds its model (the plain detector, as mmdet's ``configs/scratch``):

- ``backbone``: ``norm_cfg``, ``frozen_stages`` = the value that freezes
  nothing (-1; 0 for EfficientNet and Darknet, which freeze
  ``range(frozen_stages)`` stages and, for EfficientNet, reject -1; see
  :func:`.guard.unfrozen_stages`), ``norm_eval=False``,
  ``zero_init_residual=False`` (He et al. initialize norm weights to 1; with
  mmdet's default ``True`` the last norm of every residual block would start
  at 0, as mmdet's own ``configs/scratch`` also avoid), each where the
  backbone class accepts the key. For other backbone types (e.g. Swin,
  whose ``norm_cfg`` is a LayerNorm) the same keys are set where accepted,
  which may not be what you want: check such a backbone by hand.
- ``neck`` (FPN): ``norm_cfg``.
- two-stage ``roi_head``: every ConvFC box head (``Shared2FCBBoxHead`` ...,
  every stage of Cascade R-CNN) becomes ``Shared4Conv1FCBBoxHead`` with
  ``conv_out_channels = in_channels`` and ``norm_cfg``; its other keys
  (``in_channels``, ``fc_out_channels``, ``num_classes``, ``bbox_coder``,
  losses ...) are kept. The mask head and a C4 ``shared_head`` get
  ``norm_cfg``. A plain ``BBoxHead`` (C4 models: linear predictors only) is
  left as it is. ``rpn_head`` is left without norm.
- one-stage ``bbox_head`` (RetinaHead, FCOSHead, ...): ``norm_cfg`` in its
  stacked convs.
- every ``init_cfg`` of type ``'Pretrained'`` anywhere in the model (and a
  backbone's deprecated ``pretrained=`` path) is removed; a top-level
  ``load_from`` is the scratch guard hook's business, not this function's.
  A fine-tuned baseline of the same layout (He et al.'s pre-trained arms)
  sets ``model.backbone.init_cfg=dict(_delete_=True, type='Pretrained',
  ...)`` over the rendered model.

With ``norm='SyncBN'`` the RoI heads get ``EmptySafeSyncBN``
(:mod:`.empty_safe_syncbn`), which survives 0 RoIs on every GPU; the others get
``'SyncBN'``; SyncBN training on one process is refused by
:class:`~.syncbn_guard_hook.SyncBNGuardHook`, which a SyncBN config lists in
``custom_hooks``. With GN every width that the config determines
(ResNet/ResNeXt stem and stage widths from ``base_channels``, ``groups``,
``base_width``; FPN ``out_channels``;
head ``in_channels``/``conv_out_channels``/
``feat_channels``) must be divisible by ``num_groups``, else a ``ValueError``
names the key and the fix.

Weight decay on norm parameters is an optimizer setting, not the model's:
add ``optim_wrapper = dict(paramwise_cfg=dict(
norm_decay_mult=0.))`` (or :func:`~.norm_cfg.scratch_optim_paramwise_cfg`).
"""
import copy
import math
from typing import Any, List, Tuple

from mmdet.registry import MODELS
from .guard import unfrozen_stages
from .init_params import class_of, init_params, value_or_default
from .names import is_pretrained_init, type_name
from .norm_cfg import check_norm, scratch_norm_cfg

__all__ = ['convert_to_scratch']

#: The 4conv1fc box head of He et al. 2019 (Sec. 4, after Wu & He 2018).
SCRATCH_BBOX_HEAD = 'Shared4Conv1FCBBoxHead'
#: Box heads turned into :data:`SCRATCH_BBOX_HEAD`.
CONVFC_BBOX_HEADS = ('ConvFCBBoxHead', 'Shared2FCBBoxHead',
                     'Shared4Conv1FCBBoxHead')
#: Backbones whose norm widths are computed from the config.
RESNET_BACKBONES = ('ResNet', 'ResNetV1d', 'ResNeXt')

_PLAIN_BBOX_HEAD = 'BBoxHead'
# ConvFCBBoxHead layout keys that Shared4Conv1FCBBoxHead sets itself.
_CONVFC_LAYOUT_KEYS = ('num_shared_convs', 'num_shared_fcs', 'num_cls_convs',
                       'num_cls_fcs', 'num_reg_convs', 'num_reg_fcs',
                       'conv_out_channels', 'norm_cfg')
# He et al. 2019, Sec. 3-4: nothing frozen (frozen_stages: the backbone's
# own "nothing frozen" value, unfrozen_stages), norm trained, norm weight 1.
_SCRATCH_BACKBONE_KEYS = dict(norm_eval=False, zero_init_residual=False)


class _Converter:
    """One conversion; see :func:`convert_to_scratch`."""

    def __init__(self, norm: str, num_groups: int) -> None:
        check_norm(norm, num_groups)
        self.norm = norm
        self.num_groups = num_groups

    def norm_cfg(self, roi: bool = False) -> dict:
        return scratch_norm_cfg(self.norm, self.num_groups, roi)

    def check_width(self, what: str, width: int, fix: str) -> None:
        """Raise unless GroupNorm can split ``width`` channels."""
        if self.norm != 'GN' or width is None or width % self.num_groups == 0:
            return
        raise ValueError(
            f'{what}={width} is not divisible by num_groups='
            f'{self.num_groups}: GroupNorm needs equal groups of channels. '
            f'Pass a num_groups that divides every width (e.g. num_groups='
            f'{math.gcd(width, self.num_groups)}) or {fix}.')

    def set_norm(self, cfg: dict, path: str, roi: bool = False) -> dict:
        """Set ``norm_cfg`` (and the backbone keys) where accepted."""
        params = init_params(class_of(cfg['type'], path))
        if 'norm_cfg' not in params:
            raise ValueError(
                f'{path} ({cfg["type"]}) takes no norm_cfg, so scratch norm '
                'cannot be put into it (He et al. 2019 normalize backbone, '
                'neck and heads). Replace it by a module that takes norm_cfg.')
        cfg['norm_cfg'] = self.norm_cfg(roi)
        return params

    def backbone(self, cfg: dict) -> None:
        params = self.set_norm(cfg, 'backbone')
        if 'frozen_stages' in params:
            cfg['frozen_stages'] = unfrozen_stages(
                class_of(cfg['type'], 'backbone'))
        for key, value in _SCRATCH_BACKBONE_KEYS.items():
            if key in params:
                cfg[key] = value
        if isinstance(cfg.get('pretrained'), str):
            cfg['pretrained'] = None
        name = type_name(cfg['type'])
        if name in RESNET_BACKBONES:
            for stage, width in self._resnet_widths(cfg, params, name):
                self.check_width(
                    f'backbone ({name}, depth={cfg.get("depth")}) {stage} '
                    'width', width, 'change model.backbone.base_channels')

    def _resnet_widths(self, cfg: dict, params: dict,
                       name: str) -> List[Tuple[str, int]]:
        """Norm widths of mmdet's ResNet/ResNetV1d/ResNeXt."""
        cls = class_of(cfg['type'], 'backbone')
        depth = cfg.get('depth')
        if depth not in getattr(cls, 'arch_settings', {}):
            return []  # the backbone itself reports an invalid depth
        expansion = cls.arch_settings[depth][0].expansion
        base = value_or_default(cfg, params, 'base_channels', 64)
        stem = value_or_default(cfg, params, 'stem_channels') or base
        deep_stem = name.endswith('ResNetV1d') or value_or_default(
            cfg, params, 'deep_stem', False)
        widths = [('stem', stem // 2), ('stem', stem)] if deep_stem else \
            [('stem', stem)]
        groups = value_or_default(cfg, params, 'groups', 1)
        base_width = value_or_default(cfg, params, 'base_width', 4)
        for i in range(value_or_default(cfg, params, 'num_stages', 4)):
            planes = base * 2**i
            mid = planes if groups == 1 else \
                math.floor(planes * base_width / base) * groups
            widths += [(f'res{i + 2}', mid),
                       (f'res{i + 2}', planes * expansion)]
        return widths

    def neck(self, cfg: dict, path: str) -> None:
        params = self.set_norm(cfg, path)
        self.check_width(
            f'{path}.out_channels',
            value_or_default(cfg, params, 'out_channels'),
            f'set model.{path}.out_channels to a multiple of '
            f'{self.num_groups}')

    def bbox_head(self, cfg: dict, path: str) -> dict:
        cls = class_of(cfg['type'], path)
        if cls is class_of(_PLAIN_BBOX_HEAD, path):
            return cfg  # C4: linear predictors only, nothing to normalize
        convfc = tuple(class_of(n, path) for n in CONVFC_BBOX_HEADS)
        if cls not in convfc:
            raise ValueError(
                f'{path} is a {cfg["type"]}, not one of {CONVFC_BBOX_HEADS}: '
                'convert_to_scratch turns only these into the 4conv1fc head '
                'of He et al. 2019. Set that head\'s norm yourself.')
        new = {k: v for k, v in cfg.items() if k not in _CONVFC_LAYOUT_KEYS}
        new['type'] = SCRATCH_BBOX_HEAD
        in_channels = value_or_default(cfg, init_params(cls), 'in_channels',
                                       256)
        new['conv_out_channels'] = in_channels
        new['norm_cfg'] = self.norm_cfg(roi=True)
        self.check_width(
            f'{path}.in_channels (= conv_out_channels)', in_channels,
            f'set model.{path}.in_channels (and '
            'the RoI extractor\'s out_channels) to a multiple '
            f'of {self.num_groups}')
        return new

    def mask_head(self, cfg: dict, path: str) -> None:
        params = self.set_norm(cfg, path, roi=True)
        self.check_width(
            f'{path}.conv_out_channels',
            value_or_default(cfg, params, 'conv_out_channels'),
            f'set model.{path}.conv_out_channels to a multiple '
            f'of {self.num_groups}')

    def shared_head(self, cfg: dict, path: str) -> None:
        params = self.set_norm(cfg, path, roi=True)
        if 'norm_eval' in params:
            cfg['norm_eval'] = False
        planes = 64 * 2**value_or_default(cfg, params, 'stage', 3)
        self.check_width(f'{path} width', planes, 'use GN groups dividing 64')

    def one_stage_head(self, cfg: dict, path: str) -> None:
        params = self.set_norm(cfg, path)
        self.check_width(
            f'{path}.feat_channels',
            value_or_default(cfg, params, 'feat_channels'),
            f'set model.{path}.feat_channels to a multiple of '
            f'{self.num_groups}')

    def roi_head(self, cfg: dict) -> None:
        for key, convert in (('bbox_head', self.bbox_head), ('mask_head',
                                                             self.mask_head)):
            head = cfg.get(key)
            if isinstance(head, (list, tuple)):  # Cascade R-CNN: per stage
                out = [
                    convert(h, f'roi_head.{key}[{i}]')
                    for i, h in enumerate(head)
                ]
                if key == 'bbox_head':
                    cfg[key] = out
            elif head is not None:
                out = convert(head, f'roi_head.{key}')
                if key == 'bbox_head':
                    cfg[key] = out
        if cfg.get('shared_head') is not None:
            self.shared_head(cfg['shared_head'], 'roi_head.shared_head')

    def __call__(self, model: dict) -> dict:
        if model.get('backbone') is None:
            raise ValueError('model has no backbone: convert_to_scratch '
                             'expects an mmdet detector config.')
        self.backbone(model['backbone'])
        neck = model.get('neck')
        if isinstance(neck, (list, tuple)):
            for i, n in enumerate(neck):
                self.neck(n, f'neck[{i}]')
        elif neck is not None:
            self.neck(neck, 'neck')
        if model.get('roi_head') is not None:
            self.roi_head(model['roi_head'])  # rpn_head: no norm
        elif model.get('bbox_head') is not None:
            self.one_stage_head(model['bbox_head'], 'bbox_head')
        else:
            raise ValueError(
                f'model ({model.get("type")}) has neither roi_head nor '
                'bbox_head: convert_to_scratch knows two-stage and one-stage '
                'detectors only.')
        _strip_pretrained(model)
        return model


def _strip_pretrained(cfg: Any) -> None:
    """Remove ``init_cfg`` entries that load pre-trained weights (see
    :func:`.names.is_pretrained_init`), in place."""
    if isinstance(cfg, dict):
        init_cfg = cfg.get('init_cfg')
        if is_pretrained_init(init_cfg):
            cfg['init_cfg'] = None
        elif isinstance(init_cfg, (list, tuple)):
            kept = [c for c in init_cfg if not is_pretrained_init(c)]
            cfg['init_cfg'] = kept or None
        for value in cfg.values():
            _strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _strip_pretrained(value)


def convert_to_scratch(model_cfg: dict,
                       norm: str = 'GN',
                       num_groups: int = 32) -> dict:
    """Turn an mmdet detector config into "scratch GN-all"/"SyncBN-all".

    He et al. 2019, Sec. 3-4; see the module docstring for where the norm
    goes. A pure function: ``model_cfg`` is deep-copied, never changed.
    ``data_preprocessor``, ``train_cfg`` and ``test_cfg`` are kept as they
    are. Supported: detectors with ``backbone``, optional ``neck`` and
    either a ``roi_head`` (Faster/Mask/Cascade R-CNN, C4) or a one-stage
    ``bbox_head`` whose class takes ``norm_cfg`` (RetinaNet, FCOS, ATSS ...).

    Args:
        model_cfg (dict): The ``model`` config (dict or ``ConfigDict``) of an
            mmdet detector.
        norm (str): ``'GN'`` or ``'SyncBN'``. Defaults to ``'GN'``.
        num_groups (int): GroupNorm groups (ignored for SyncBN). Defaults to
            32.

    Returns:
        dict: The converted copy, of the same mapping type as ``model_cfg``.

    Raises:
        ValueError: An unknown ``norm``; a GN width not divisible by
            ``num_groups`` (the message names the key and the fix); a module
            that takes no ``norm_cfg``; a box head that is not a ConvFC head;
            a type missing from mmdet's ``MODELS``.
    """
    return _Converter(norm, num_groups)(copy.deepcopy(model_cfg))


@MODELS.register_module(name='ScratchNormDetector')
def _removed_scratch_norm_detector(**kwargs):
    """The former builder's name, kept only to say what replaced it."""
    raise TypeError(
        "type='ScratchNormDetector' was removed: a scratch config now holds "
        'the plain GN-all/SyncBN-all detector written out. Render it with '
        '`python tools/misc/render_scratch_model.py CONFIG --norm GN --out '
        'FILE` (or --norm SyncBN), list FILE under _base_ in place of the '
        "model base, and move the keys under model.detector up to model "
        '(model.backbone_init_cfg -> model.backbone.init_cfg with '
        '_delete_=True); SyncBN training needs custom_hooks=[dict('
        "type='SyncBNGuardHook')].")
