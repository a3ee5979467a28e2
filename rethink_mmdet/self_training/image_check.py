"""Whether the images a pseudo-label store names exist, checked at load.

A store lists image paths relative to the root it was labeled from
(ImageNet's 1.28M files for Zoph et al. 2020); a student pointed at another
root would otherwise fail at its first batch, hours into a job. On a local
or network file system each image directory is listed once (one
``os.scandir`` per directory, not one ``stat`` per image: ImageNet's 1,000
folders are 1,000 listings); other backends cost one ``exists`` request
per checked file.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.fileio import exists as fileio_exists

from .store import PseudoLabelStoreError
from .store_scan import NUM_LISTED

__all__ = ['images_to_check', 'missing_files', 'check_image_files']


def images_to_check(idx: np.ndarray, check) -> np.ndarray:
    """The store indexes to check: all of ``idx`` for ``check=True``,
    ``check`` evenly spaced ones for an int, none for False or 0."""
    n = len(idx) if check is True else min(int(check), len(idx))
    if n <= 0:
        return idx[:0]
    if n == len(idx):
        return idx
    return idx[np.linspace(0, len(idx) - 1, n).round().astype(np.int64)]


def missing_files(paths: Sequence[str],
                  backend_args: Optional[dict] = None) -> List[int]:
    """Indexes of ``paths`` that do not exist.

    Args:
        paths (Sequence[str]): Image paths.
        backend_args (dict, optional): mmengine file backend arguments;
            None or ``backend='local'`` lists directories. Defaults to None.

    Returns:
        list[int]: The positions of the missing paths.
    """
    if backend_args is not None and backend_args.get('backend',
                                                     'local') != 'local':
        return [
            k for k, p in enumerate(paths)
            if not fileio_exists(p, backend_args=backend_args)
        ]
    listed = {}
    missing = []
    for k, p in enumerate(paths):
        d, name = osp.split(p)
        if d not in listed:
            try:
                with os.scandir(d or '.') as it:
                    listed[d] = {e.name for e in it}
            except OSError:
                listed[d] = set()
        if name not in listed[d] and not osp.exists(p):
            missing.append(k)
    return missing


def check_image_files(store, idx: np.ndarray, check, root: str,
                      backend_args: Optional[dict], meta_file: str) -> None:
    """Refuse a store whose checked images (:func:`images_to_check`) are
    missing under ``root``, naming the first ones and the fix.

    Args:
        store (PseudoLabelStore): The store.
        idx (np.ndarray): Store indexes of the dataset's images.
        check (bool | int): ``check_files`` of the dataset.
        root (str): The image root the store's relative paths join.
        backend_args (dict, optional): mmengine file backend arguments.
        meta_file (str): The store's ``meta.json`` (for the error).

    Raises:
        PseudoLabelStoreError: Some checked file is missing.
    """
    pick = images_to_check(idx, check)
    paths = [osp.join(root, store.path(int(i))) for i in pick]
    missing = missing_files(paths, backend_args)
    if missing:
        first = ', '.join(f'{paths[k]!r} (image {int(pick[k])})'
                          for k in missing[:NUM_LISTED])
        raise PseudoLabelStoreError(
            f'{meta_file}: {len(missing)} of {len(pick)} checked image '
            f'files are missing under image root {root!r}; first: {first}. '
            'Point data_root / data_prefix.img at the folder the store\'s '
            f'relative paths start from (store source: '
            f'{store.meta.get("source")}), or set check_files=False.')
