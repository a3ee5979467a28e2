"""What a registered mmdet class accepts, read from the class itself: the
scratch conversion (:mod:`.norm`, He et al. 2019 Sec. 3-4) sets a norm
only where the module takes one, and reads a layout value from the config
or, when the config leaves it out, from the class default.
"""
import inspect
from typing import Any, Dict

from mmdet.registry import MODELS

__all__ = ['class_of', 'init_params', 'value_or_default']


def class_of(type_: Any, path: str) -> type:
    """The class of a config ``type`` from mmdet's ``MODELS``."""
    if isinstance(type_, type):
        return type_
    import mmdet.models  # noqa: F401  (registers mmdet's classes)
    cls = MODELS.get(type_) if isinstance(type_, str) else None
    if not isinstance(cls, type):
        raise ValueError(
            f'{path}.type={type_!r} is not a class in mmdet\'s MODELS '
            'registry: import the package that registers it (custom_imports '
            'or `import`) before converting to scratch norm.')
    return cls


def init_params(cls: type) -> Dict[str, Any]:
    """Keyword arguments accepted by ``cls`` with their defaults, following
    ``**kwargs`` up the MRO (``inspect.Parameter.empty`` when required)."""
    params: Dict[str, Any] = {}
    for klass in cls.__mro__:
        if '__init__' not in vars(klass) or klass is object:
            continue
        more = False
        sig = inspect.signature(klass.__init__)
        for p in list(sig.parameters.values())[1:]:
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                more = True
            elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
                params.setdefault(p.name, p.default)
        if not more:
            break
    return params


def value_or_default(cfg: dict,
                     params: dict,
                     key: str,
                     fallback: Any = None) -> Any:
    """``cfg[key]``, else the class default, else ``fallback``."""
    if key in cfg:
        return cfg[key]
    default = params.get(key, inspect.Parameter.empty)
    return fallback if default is inspect.Parameter.empty else default
