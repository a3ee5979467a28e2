"""The draws of :class:`~.sampler.MixedSourceSampler` (Zoph et al. 2020,
Sec. 3: every batch a fixed share of human and pseudo images): seeded
permutations that are the same on every machine (a hash of the run's
seed and position, no global RNG), endless per-source streams of them,
and the orientation of every image (mmdet's ``AspectRatioBatchSampler``
rule: ``width < height`` is portrait).
"""
import hashlib
from typing import List

import numpy as np
import torch

__all__ = [
    'PORTRAIT', 'LANDSCAPE', 'seed_of', 'positive_int', 'permutation',
    'image_orientations', 'Stream'
]

# orientation groups (mmdet AspectRatioBatchSampler: width < height -> 0)
PORTRAIT, LANDSCAPE = 0, 1


def seed_of(*parts) -> int:
    """A 63-bit seed from ints and strings (same on every machine)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'little') >> 1


def positive_int(x) -> bool:
    whole = isinstance(x, (int, np.integer)) and not isinstance(x, bool)
    return whole and x > 0


def permutation(n: int, shuffle: bool, *key) -> np.ndarray:
    if not shuffle:
        return np.arange(n)
    gen = torch.Generator()
    gen.manual_seed(seed_of(*key))
    return torch.randperm(n, generator=gen).numpy()


def image_orientations(dataset) -> np.ndarray:
    """``LANDSCAPE`` (width >= height) or ``PORTRAIT`` of every item.

    Uses ``dataset.image_hw()`` ((N, 2) heights and widths) when the
    dataset has it, else the ``height`` / ``width`` of each data info.
    """
    image_hw = getattr(dataset, 'image_hw', None)
    if callable(image_hw):
        hw = np.asarray(image_hw()).reshape(-1, 2)
    else:
        infos = (dataset.get_data_info(i) for i in range(len(dataset)))
        try:
            hw = np.array([[info['height'], info['width']] for info in infos])
        except KeyError:
            raise KeyError(
                f'MixedSourceSampler(aspect_ratio_grouping=True): the data '
                f'infos of {type(dataset).__name__} have no height/width '
                '(and it has no image_hw()), e.g. classification images of '
                'joint training. Set train_dataloader.sampler.'
                'aspect_ratio_grouping=False (pipelines that crop every image '
                'to one output size make it moot).') from None
    return np.where(hw[:, 1] < hw[:, 0], PORTRAIT, LANDSCAPE).reshape(-1)


class Stream:
    """Items in consecutive seeded permutations (passes), without end."""

    def __init__(self, items: np.ndarray, shuffle: bool, key: tuple):
        self.items, self.shuffle, self.key = items, shuffle, key
        self._pass, self._order = -1, None

    def take(self, start: int, count: int) -> List[int]:
        out = []
        for pos in range(start, start + count):
            k, i = divmod(pos, len(self.items))
            if k != self._pass:
                self._pass = k
                self._order = self.items[permutation(
                    len(self.items), self.shuffle, *self.key, k)]
            out.append(int(self._order[i]))
        return out
