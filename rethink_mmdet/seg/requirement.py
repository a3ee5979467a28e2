# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The ``[seg]`` extra: MMSegmentation 1.x, checked once with the fix.

MMSegmentation is an optional dependency of the package; without it
``import rethink_mmdet.seg`` (and so any segmentation config, through its
``custom_imports``) stops with an error naming the extra to install.
"""
import importlib
import importlib.metadata as md

from packaging.version import Version

__all__ = [
    'MMSEG_RANGE', 'INSTALL_HINT', 'MissingSegExtraError', 'require_mmseg'
]

#: Tested MMSegmentation range (requirements/seg.txt).
MMSEG_RANGE = ('1.2.2', '1.3')
#: What to run to get the extra.
INSTALL_HINT = "pip install 'rethink_mmdet[seg]'"


class MissingSegExtraError(ImportError):
    """MMSegmentation (or a module it imports) is missing or too old."""


def require_mmseg() -> str:
    """Import ``mmseg`` (its registries and models) or fail with the fix.

    Returns:
        str: The installed MMSegmentation version.

    Raises:
        MissingSegExtraError: MMSegmentation is not installed, cannot be
            imported (e.g. ``ftfy`` / ``regex`` missing, which mmseg.utils
            imports without declaring them) or is outside
            :data:`MMSEG_RANGE`.
    """
    low, high = MMSEG_RANGE
    try:
        version = md.version('mmsegmentation')
    except md.PackageNotFoundError:
        version = None
    try:
        importlib.import_module('mmseg.models')
    except ImportError as err:
        found = (f'MMSegmentation {version} is installed but does not '
                 f'import ({err})'
                 if version else 'MMSegmentation is not installed')
        raise MissingSegExtraError(
            f'rethink_mmdet.seg (the segmentation half of Zoph et al. 2020) '
            f'needs MMSegmentation >={low},<{high}: {found}. Install the '
            f'[seg] extra: {INSTALL_HINT}') from err
    if version is not None and not (Version(low) <= Version(version) <
                                    Version(high)):
        raise MissingSegExtraError(
            f'rethink_mmdet.seg is tested with MMSegmentation >={low},'
            f'<{high} (mmcv 2.1, mmengine 0.10); found {version}. Install '
            f'the [seg] extra: {INSTALL_HINT}')
    return version
