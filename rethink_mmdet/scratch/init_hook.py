# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""ScratchInitHook: He et al. 2019 initialization of a from-scratch run.

What is re-initialized, and why, is documented in :mod:`.init`.
"""
from typing import Sequence, Tuple

from mmengine.dist import broadcast
from mmengine.model import is_model_wrapper
from torch import nn

from mmdet.registry import HOOKS
from rethink_mmdet.engine.load_events import LoadedCheckpointMixin
from .init import (DEFAULT_INIT_EXCLUDE, format_weight_stats, he_init,
                   weight_stats)

__all__ = ['ScratchInitHook', 'inner_detector']


def inner_detector(model: nn.Module) -> nn.Module:
    """The detector whose sub-modules :class:`ScratchInitHook` names: the
    model unwrapped from DDP/FSDP (``is_model_wrapper``) and from a
    self-training student (``SelfTrainingDetector.detector``, Zoph et al.
    2020), so ``modules=('backbone',)`` means the student's backbone too.
    """
    # imported here: rethink_mmdet.scratch does not depend on self_training
    from rethink_mmdet.self_training.student import SelfTrainingDetector
    if is_model_wrapper(model):
        model = model.module
    while isinstance(model, SelfTrainingDetector):
        model = model.detector
    return model


def _relative_modules(model: nn.Module, detector: nn.Module,
                      modules: Sequence[str]) -> Tuple[str, ...]:
    """``modules`` relative to the inner detector: a name given relative to
    the student (``'detector.backbone'``, as configs written before the
    hook unwrapped the student do) loses its prefix."""
    if detector is model:
        return tuple(modules)
    prefix = next(name
                  for name, m in model.named_modules() if m is detector) + '.'
    return tuple(m[len(prefix):] if m.startswith(prefix) else m
                 for m in modules)


@HOOKS.register_module()
class ScratchInitHook(LoadedCheckpointMixin):
    """Apply MSRA init to the backbone (He et al. 2019) and log weight stats.

    Runner event: ``before_train``. In :meth:`Runner.train` the order is
    ``before_run`` -> ``_init_model_weights()`` (the model's own
    ``init_cfg``) -> ``load_or_resume()`` -> ``train_loop.run()``, whose
    first call is ``before_train``. The re-initialization must come after
    ``_init_model_weights`` (which would overwrite it) and must not undo a
    resume, so it runs in ``before_train`` and only when no checkpoint was
    loaded (its own ``after_load_checkpoint`` event,
    :class:`~rethink_mmdet.engine.load_events.LoadedCheckpointMixin`):
    a resumed run keeps its checkpoint's weights untouched. Its priority runs
    it before other ``before_train`` hooks that copy the weights (e.g. a
    mean teacher). In distributed runs the re-initialized tensors are
    broadcast from rank 0, as mmengine does after ``init_weights``.

    ``modules`` are sub-modules of the detector: under a
    ``SelfTrainingDetector`` student they are looked up in its inner
    detector (:func:`inner_detector`), so the same hook config serves the
    teacher and the student (``'detector.backbone'`` is accepted too).

    Re-initialized (see :func:`he_init`): every conv in ``modules`` with
    MSRA normal fan_out (std ``sqrt(2 / fan_out)``), conv bias 0; every
    norm in ``modules`` with weight 1, bias 0; with ``zero_init_residual``
    also the last norm weight of each ResNet block 0. Everything else keeps
    the model's own init (Detectron's head inits in MMDetection). A table
    of per-stage weight statistics (conv weight mean, std over the Kaiming
    std, norm weight/bias means) is logged after the init.

    Usage::

        custom_hooks = [dict(type='ScratchGuardHook'),
                        dict(type='ScratchInitHook')]

    Args:
        modules (Sequence[str]): Sub-modules of the detector to
            re-initialize; ``''`` means the whole model.
            Defaults to ``('backbone',)``.
        zero_init_residual (bool): Zero-init the last norm of each residual
            block (Goyal et al. 2017; not in He et al. 2019).
            Defaults to False.
        exclude (Sequence[str]): ``fnmatch`` patterns of conv names to leave
            alone. Defaults to ``('*conv_offset',)`` (DCN offsets start at
            zero).
        log_stats (bool): Log the weight statistics table.
            Defaults to True.
    """

    # Before every other hook's before_train (e.g. MeanTeacherHook copying
    # the student into the teacher).
    priority = 'VERY_HIGH'

    def __init__(self,
                 modules: Sequence[str] = ('backbone', ),
                 zero_init_residual: bool = False,
                 exclude: Sequence[str] = DEFAULT_INIT_EXCLUDE,
                 log_stats: bool = True):
        if isinstance(modules, str):
            modules = [modules]
        if isinstance(exclude, str):
            exclude = [exclude]
        self.modules = tuple(modules)
        self.zero_init_residual = zero_init_residual
        self.exclude = tuple(exclude)
        self.log_stats = log_stats

    def before_train(self, runner) -> None:
        """Re-initialize ``modules`` unless a checkpoint was loaded.

        Args:
            runner (Runner): The runner of the training process.
        """
        if self.loaded_checkpoint:
            runner.logger.info(
                'ScratchInitHook: a checkpoint was loaded (resume or '
                'load_from); its weights are kept, nothing is '
                're-initialized.')
            return
        outer = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model = inner_detector(outer)
        modules = _relative_modules(outer, model, self.modules)
        counts = he_init(
            model,
            modules=modules,
            zero_init_residual=self.zero_init_residual,
            exclude=self.exclude)
        for prefix in modules:
            for tensor in model.get_submodule(prefix).state_dict().values():
                broadcast(tensor)
        zero = (f', zero-init residual in {counts["zero_init_blocks"]} '
                f'blocks' if self.zero_init_residual else '')
        runner.logger.info(
            f'ScratchInitHook: He et al. 2019 init of {list(modules)} of '
            f'the {type(model).__name__}: '
            f'{counts["convs"]} convs MSRA normal fan_out, {counts["norms"]} '
            f'norms weight 1 bias 0{zero}; other modules keep their init_cfg.')
        if self.log_stats:
            runner.logger.info(
                'ScratchInitHook: weight statistics after init\n' +
                format_weight_stats(weight_stats(model, modules)))
