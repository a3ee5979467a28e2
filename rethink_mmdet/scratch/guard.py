# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Checks that a detector really trains from scratch (He et al. 2019).

He, Girshick, Dollar 2019 ("Rethinking ImageNet Pre-training", arXiv
1811.08883) train *every* parameter from random initialization. Three ways a
config silently breaks that, each found by :func:`find_scratch_problems`:

1. **Frozen layers.** A frozen layer of a randomly initialized network
   stays random. Detectron's default ``FREEZE_AT=2`` did exactly this to
   the first from-scratch runs: conv1 and res2 stayed at random init and
   Mask R-CNN R-50-FPN GN 3x reached 36.2/32.5 box/mask AP instead of
   39.5/35.2 (Detectron ``projects/GN/README.md``, "Training Mask R-CNN from
   scratch", fixed by commit f8ffc87 "fix an issue of GN from-scratch" with
   ``FREEZE_AT: 0``). In MMDetection this is ``frozen_stages >= 0`` (the
   ``mmdet::_base_`` Mask/Faster R-CNN and RetinaNet models use 1) for
   ResNet-like backbones, ``frozen_stages >= 1`` for the backbones that
   freeze ``range(frozen_stages)`` stages (:func:`unfrozen_stages`:
   EfficientNet, Darknet), or any parameter with ``requires_grad=False``.
2. **Frozen normalization.** He et al. 2019, Sec. 3.1 ("Normalization"):
   fine-tuning can use pre-training's BN statistics as fixed parameters,
   "however, freezing BN is invalid when training from scratch"; all frozen
   BN layers are replaced by GN or SyncBN and trained (Sec. 4,
   "Architecture"). In MMDetection: ``norm_eval=True`` (the ``_base_``
   default), a norm layer left in eval mode by ``model.train()``, a norm
   built with ``norm_cfg=dict(..., requires_grad=False)``, or a
   ``FrozenBatchNorm2d``.
3. **Pre-trained weights.** A ``Pretrained`` ``init_cfg`` on any module of
   the built model (mmdet's deprecated ``pretrained=`` path becomes one), a
   truthy ``pretrained`` key in a module's config (timm-style backbones load
   weights when built), or ``load_from`` without ``resume``. ``resume=True``
   (with or without ``load_from``) is allowed: mmengine's resume restores
   a training checkpoint of this run (weights, optimizer, iteration), which
   is still training from scratch.
"""
import fnmatch
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from torch import nn

from mmdet.models.backbones import Darknet, EfficientNet
from .init import NORM_TYPES
from .names import pretrained_entries, under

__all__ = [
    'ScratchProblem', 'ScratchTrainingError', 'find_scratch_problems',
    'ZERO_BASED_FROZEN_STAGES', 'unfrozen_stages'
]

#: mmdet backbones whose ``_freeze_stages`` freezes ``range(frozen_stages)``
#: stages, so ``frozen_stages=0`` freezes nothing (EfficientNet rejects -1:
#: ``frozen_stages must be in range(0, 8)``). Every other mmdet backbone
#: (ResNet and subclasses, RegNet, Swin, MobileNetV2, CSPDarknet, ...)
#: freezes its stem at 0 and nothing at -1.
ZERO_BASED_FROZEN_STAGES = (EfficientNet, Darknet)

FREEZE_AT_NOTE = (
    'He et al. 2019 recipe, Detectron FREEZE_AT bug: Mask R-CNN R-50-FPN GN '
    'from scratch got 36.2/32.5 box/mask AP instead of 39.5/35.2 at 3x')
FROZEN_BN_NOTE = ('He et al. 2019, Sec. 3.1: "freezing BN is invalid when '
                  'training from scratch"')


@dataclass(frozen=True)
class ScratchProblem:
    """One reason why a run does not train from scratch.

    Args:
        module (str): Where: a dotted module name of the model (``backbone``,
            ``neck``, ``roi_head.bbox_head``, ``model`` for the model itself)
            or a config key (``load_from``).
        problem (str): What is wrong and what it does.
        fix (str): The config change that fixes it.
        module_type (str): The class name of ``module``, if it is one.
            Defaults to ''.
    """
    module: str
    problem: str
    fix: str
    module_type: str = ''

    def __str__(self) -> str:
        where = (f'{self.module} ({self.module_type})'
                 if self.module_type else self.module)
        return f'{where}: {self.problem}. Fix: {self.fix}'


class ScratchTrainingError(RuntimeError):
    """Raised by :class:`ScratchGuardHook` with every problem found.

    Args:
        problems (Sequence[ScratchProblem]): What
            :func:`find_scratch_problems` found; kept as ``.problems``.
    """

    def __init__(self, problems: Sequence[ScratchProblem]):
        self.problems = list(problems)
        lines = [f'  {i}. {p}' for i, p in enumerate(self.problems, 1)]
        super().__init__(
            f'This run does not train from scratch (He et al. 2019); '
            f'{len(self.problems)} problem(s) found by ScratchGuardHook:\n' +
            '\n'.join(lines) + '\n(To fine-tune a pre-trained model on '
            'purpose, remove ScratchGuardHook and ScratchInitHook from '
            'custom_hooks.)')


def _cfg_key(name: str) -> str:
    return f'model.{name}' if name else 'model'


def unfrozen_stages(backbone: Any) -> int:
    """The ``frozen_stages`` value that freezes nothing, for a backbone
    class or module: 0 for :data:`ZERO_BASED_FROZEN_STAGES`, else -1."""
    cls = backbone if isinstance(backbone, type) else type(backbone)
    return 0 if issubclass(cls, ZERO_BASED_FROZEN_STAGES) else -1


def _frozen_stages(name: str, module: nn.Module,
                   frozen: int) -> Tuple[ScratchProblem, List[str]]:
    """The problem for ``frozen_stages >= 0`` and the sub-modules it
    freezes (prefixes whose frozen parameters / eval norms it explains)."""
    join = (lambda child: f'{name}.{child}') if name else (lambda c: c)
    layers = getattr(module, 'res_layers', None)
    if isinstance(layers, list):  # mmdet ResNet and its subclasses
        if getattr(module, 'deep_stem', False):
            stem, stem_names = 'stem', ['stem']
        else:
            stem = 'conv1'
            stem_names = ['conv1', getattr(module, 'norm1_name', 'norm1')]
        stages = layers[:frozen]
        what = '/'.join([stem] + [f'res{i + 2}' for i in range(len(stages))])
        prefixes = [join(c) for c in stem_names + stages]
    elif isinstance(module, EfficientNet):  # layers[:frozen]
        what = f'layers.0-{frozen - 1}'
        prefixes = [join(f'layers.{i}') for i in range(frozen)]
    else:  # another backbone: all of it is suspect
        what = f'its stages up to {frozen}'
        prefixes = [name]
    problem = ScratchProblem(
        name or 'model',
        f'frozen_stages={frozen} while training from scratch: {what} would '
        f'stay at random init ({FREEZE_AT_NOTE})',
        f'Set {_cfg_key(name)}.frozen_stages={unfrozen_stages(module)}.',
        type(module).__name__)
    return problem, prefixes


def _cfg_pretrained(cfg: Any, path: str = '') -> Iterator[Tuple[str, Any]]:
    """``(config path, value)`` of every truthy ``pretrained`` key in a
    model config (``''`` is the model itself)."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'pretrained' and value:
                yield path, value
            elif isinstance(value, dict):
                yield from _cfg_pretrained(value,
                                           f'{path}.{key}' if path else key)


def _component(name: str) -> str:
    return name.split('.')[0] if name else 'model'


def _grouped(names: List[str]) -> 'OrderedDict[str, List[str]]':
    groups: 'OrderedDict[str, List[str]]' = OrderedDict()
    for name in names:
        groups.setdefault(_component(name), []).append(name)
    return groups


def _eval_mode_norms(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """Norm layers whose ``training`` is False right after
    ``model.train()``; the train/eval flags are restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.train()
        return [(name, m) for name, m in model.named_modules()
                if isinstance(m, NORM_TYPES) and not m.training]
    finally:
        for module, flag in flags:
            module.training = flag


def find_scratch_problems(
    model: nn.Module,
    model_cfg: Optional[dict] = None,
    load_from: Optional[str] = None,
    resume: bool = False,
    allow_frozen: Sequence[str] = ()
) -> List[ScratchProblem]:
    """Every reason why ``model`` would not train from scratch.

    See the module docstring for the rules and where He et al. state them.

    Args:
        model (nn.Module): The (unwrapped) model, as built, before training.
        model_cfg (dict, optional): The ``model`` config, searched for
            truthy ``pretrained`` keys (weights loaded when the module is
            built, which leaves no ``init_cfg``) at config paths that are
            module names of ``model``. ``Pretrained`` init configs are read
            from the built modules' ``init_cfg``. Defaults to None.
        load_from (str, optional): The runner's ``load_from``.
            Defaults to None.
        resume (bool): The runner's ``resume``; with it, ``load_from`` is
            the checkpoint this run resumes from and is allowed.
            Defaults to False.
        allow_frozen (Sequence[str]): ``fnmatch`` patterns of parameter
            names that may have ``requires_grad=False`` by design.
            Defaults to ().

    Returns:
        list[ScratchProblem]: Empty when the model trains from scratch.
    """
    problems: List[ScratchProblem] = []
    explained: List[str] = []  # module prefixes with an explained freeze
    eval_explained: List[str] = []  # ... with explained eval-mode norms
    pretrained_owners = set()
    for name, module in model.named_modules():
        frozen = getattr(module, 'frozen_stages', None)
        if isinstance(frozen, int) and not isinstance(
                frozen, bool) and frozen > unfrozen_stages(module):
            problem, prefixes = _frozen_stages(name, module, frozen)
            problems.append(problem)
            explained += prefixes
            eval_explained += prefixes
        if getattr(module, 'norm_eval', False) is True:
            problems.append(
                ScratchProblem(
                    name or 'model',
                    'norm_eval=True while training from scratch: its '
                    'BatchNorm layers would keep their random-init running '
                    f'statistics ({FROZEN_BN_NOTE})',
                    f'Set {_cfg_key(name)}.norm_eval=False.',
                    type(module).__name__))
            eval_explained.append(name)
        if 'FrozenBatchNorm' in type(module).__name__:
            problems.append(
                ScratchProblem(
                    name or 'model',
                    f'a frozen BatchNorm (fixed statistics and affine '
                    f'parameters; {FROZEN_BN_NOTE})',
                    'Build the model with norm_cfg=dict(type=\'GN\', '
                    'num_groups=32, requires_grad=True) or SyncBN.',
                    type(module).__name__))
        for entry in pretrained_entries(getattr(module, 'init_cfg', None)):
            problems.append(
                ScratchProblem(
                    name or 'model',
                    f'init_cfg={dict(entry)}: pre-trained weights would be '
                    f'loaded into it',
                    f'Set {_cfg_key(name)}.init_cfg=None (train from random '
                    f'init; ScratchInitHook applies MSRA init).',
                    type(module).__name__))
            pretrained_owners.add(name)
    # Weights loaded at construction (``pretrained=True`` of timm-style
    # backbones) leave no init_cfg behind; only config paths that are module
    # names of the built model count, so a wrapper whose config nests the
    # detector is judged by what it builds.
    module_names = {name for name, _ in model.named_modules()}
    for owner, value in _cfg_pretrained(model_cfg or {}):
        if owner in module_names and owner not in pretrained_owners:
            key = _cfg_key(owner)
            problems.append(
                ScratchProblem(
                    owner or 'model',
                    f'the config sets {key}.pretrained={value!r}: pre-trained '
                    f'weights would be loaded',
                    f'Set {key}.pretrained=None (or False).'))

    norms = {
        name
        for name, m in model.named_modules() if isinstance(m, NORM_TYPES)
    }
    frozen_norms, frozen_params = OrderedDict(), []
    for pname, param in model.named_parameters():
        if param.requires_grad or under(pname, explained) or any(
                fnmatch.fnmatchcase(pname, p) for p in allow_frozen):
            continue
        owner = pname.rpartition('.')[0]
        if owner in norms:
            frozen_norms[owner] = True
        else:
            frozen_params.append(pname)
    for comp, names in _grouped(list(frozen_norms)).items():
        problems.append(
            ScratchProblem(
                comp,
                f'{len(names)} norm layer(s) with frozen affine parameters '
                f'(requires_grad=False): {", ".join(names)}',
                f'Build them with norm_cfg=dict(..., requires_grad=True) '
                f'({_cfg_key(comp if comp != "model" else "")}.norm_cfg); '
                f'He et al. 2019 train all GN/SyncBN parameters.'))
    for comp, names in _grouped(frozen_params).items():
        problems.append(
            ScratchProblem(
                comp,
                f'{len(names)} parameter(s) with requires_grad=False would '
                f'stay at random init: {", ".join(names)}',
                'Remove what freezes them (a freeze option in the config or a '
                'requires_grad_(False) call), or list them in '
                'ScratchGuardHook(allow_frozen=[...]) if fixed by design.'))

    eval_norms = [
        name for name, _ in _eval_mode_norms(model)
        if not under(name, eval_explained)
    ]
    for comp, names in _grouped(eval_norms).items():
        problems.append(
            ScratchProblem(
                comp, f'{len(names)} norm layer(s) stay in eval mode after '
                f'model.train(): {", ".join(names)} ({FROZEN_BN_NOTE})',
                'Remove what puts them in eval mode in train() (a norm_eval '
                'or freeze option of the module that holds them).'))

    if load_from and not resume:
        problems.append(
            ScratchProblem(
                'load_from',
                f'load_from={load_from!r} loads a checkpoint into the model '
                f'before training',
                'Set load_from=None; to continue this run from its own '
                'checkpoint use resume=True (--resume), which is allowed.'))
    return problems
