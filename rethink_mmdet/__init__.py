"""rethink_mmdet: He et al. 2019 and Zoph et al. 2020 as MMDetection configs.

Importing the package registers every component into MMDetection's own
registries (``mmdet.registry.MODELS``, ``HOOKS``, ``DATASETS``, ...), so any
mmdet config can use them with::

    custom_imports = dict(
        imports=['rethink_mmdet'], allow_failed_imports=False)

It also makes mmengine checkpoints loadable on torch >= 2.6 with
``weights_only=True`` kept (see :mod:`rethink_mmdet.engine.checkpoint_safety`).
"""
import mmdet  # noqa: F401  (mmdet's registries must exist before ours)
from . import pretrain  # noqa: F401  (the ImageNet stand-in)
from . import augment, data, engine, scratch, self_training  # noqa: F401
from .version import __version__

__all__ = ['__version__']
