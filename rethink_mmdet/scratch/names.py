# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Names and config-walking helpers shared by the scratch modules, each
written once: registry names, scope stripping, module-prefix tests and the
walker that finds ``Pretrained`` init configs."""
from typing import Any, Iterator, Optional, Sequence

#: mmengine's registry name of the init that loads pre-trained weights, and
#: the class it builds (``init_cfg`` of a built module may hold either).
PRETRAINED_TYPE = 'Pretrained'
PRETRAINED_CLASS = 'PretrainedInit'


def type_name(type_: Any) -> Optional[str]:
    """Registry name of a config ``type`` value without its scope
    (``'mmdet.ResNet'`` -> ``'ResNet'``; a class -> its name)."""
    if isinstance(type_, str):
        return type_.rsplit('.', 1)[-1]
    if isinstance(type_, type):
        return type_.__name__
    return None


def is_pretrained_init(init_cfg: Any) -> bool:
    """Whether one ``init_cfg`` dict loads pre-trained weights (type
    ``'Pretrained'``, scoped or not, or the ``PretrainedInit`` class)."""
    return isinstance(init_cfg, dict) and type_name(
        init_cfg.get('type')) in (PRETRAINED_TYPE, PRETRAINED_CLASS)


def pretrained_entries(init_cfg: Any) -> Iterator[dict]:
    """Every ``init_cfg`` entry (in lists and ``override``) that loads
    pre-trained weights."""
    if isinstance(init_cfg, (list, tuple)):
        for item in init_cfg:
            yield from pretrained_entries(item)
    elif isinstance(init_cfg, dict):
        if is_pretrained_init(init_cfg):
            yield init_cfg
        yield from pretrained_entries(init_cfg.get('override'))


def under(name: str, prefixes: Sequence[str]) -> bool:
    """Whether module ``name`` is one of ``prefixes`` or inside one (``''``
    is the whole model)."""
    return any(p == '' or name == p or name.startswith(p + '.')
               for p in prefixes)
