"""``PretrainedFileHook``: a missing pre-training checkpoint named with the
command that makes it, before training starts.

He et al. 2019 (Sec. 5) compare training from random init with fine-tuning
from a pre-trained backbone; here the pre-trained arm's backbone comes from
the package's own pre-training run (``configs/shapes/cls_*``), a file that
may not exist yet. mmengine loads a ``Pretrained`` init deep inside
``init_weights`` and fails with a bare ``... can not be found``; this hook
checks every local ``Pretrained`` checkpoint of the model in ``before_run``
of a training run (a test of a trained arm needs no pre-training file) and
raises with the path, the module and the command.
"""
import os.path as osp
from typing import Dict, Optional

from mmengine.hooks import Hook

from mmdet.registry import HOOKS
from rethink_mmdet.engine.runner_state import is_training_run
from rethink_mmdet.scratch.names import pretrained_entries

__all__ = ['PretrainedFileHook']


def _is_local(path) -> bool:
    return isinstance(path, str) and '://' not in path


@HOOKS.register_module()
class PretrainedFileHook(Hook):
    """Refuse to train when a local ``Pretrained`` init checkpoint of the
    model is missing, naming the command that writes it.

    Args:
        made_by (dict, optional): Checkpoint path (or a folder it is in) ->
            the command that writes it, for the error message. Defaults to
            None (the message names the path and the module only).
    """

    priority = 'VERY_HIGH'

    def __init__(self, made_by: Optional[Dict[str, str]] = None) -> None:
        self.made_by = dict(made_by or {})

    def _command(self, path: str) -> Optional[str]:
        for where, command in self.made_by.items():
            if osp.normpath(path).startswith(osp.normpath(where)):
                return command
        return None

    def before_run(self, runner) -> None:
        """Check the model's ``Pretrained`` checkpoints (training only).

        Args:
            runner (Runner): The runner.

        Raises:
            FileNotFoundError: A local checkpoint that does not exist.
        """
        if not is_training_run(runner):
            return
        for name, module in runner.model.named_modules():
            for entry in pretrained_entries(getattr(module, 'init_cfg', None)):
                path = entry.get('checkpoint')
                if not _is_local(path) or osp.isfile(path):
                    continue
                command = self._command(path)
                raise FileNotFoundError(
                    f'{path}: the pre-trained checkpoint of '
                    f'{name or "the model"} ({type(module).__name__}, its '
                    "init_cfg type='Pretrained') does not exist. " +
                    (f'Make it first: {command}; or set' if command else 'Set'
                     ) + ' its path with --cfg-options (e.g. '
                    'model.backbone.init_cfg.checkpoint=PATH for the shapes '
                    'configs).')
