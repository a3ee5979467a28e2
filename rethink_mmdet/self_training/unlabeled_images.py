"""The unlabeled images as the labeler reads them (Zoph et al. 2020, Sec.
3: the teacher labels them "without augmentation"): the teacher's test
pipeline without its annotation loading, a dataset whose unreadable images
become error records instead of a dead loader, and the batches of a chunk
(images are batched within a chunk only, so that a store does not depend
on the number of ranks or on interruptions).
"""
import copy
import os.path as osp
from typing import Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

__all__ = [
    'ANNOTATION_LOADERS', 'ERROR_KEY', 'test_pipeline_cfg', 'UnlabeledImages',
    'collate_with_errors', 'ChunkBatches'
]

#: Test-pipeline transforms dropped for unlabeled images (no annotations).
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticAnnotations',
                      'LoadEmptyAnnotations', 'mmdet.LoadAnnotations')

#: Key of the error marker a :class:`UnlabeledImages` item carries instead
#: of the pipeline output when its image cannot be read.
ERROR_KEY = 'load_error'


def test_pipeline_cfg(cfg: Config) -> list:
    """The teacher's test pipeline without annotation loading.

    Taken from ``cfg.test_dataloader.dataset`` (unwrapping dataset
    wrappers), else ``cfg.test_pipeline``.
    """
    pipeline = None
    loader = cfg.get('test_dataloader')
    if loader is not None:
        dataset = loader.dataset
        while 'pipeline' not in dataset and 'dataset' in dataset:
            dataset = dataset.dataset
        pipeline = dataset.get('pipeline')
    if pipeline is None:
        pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        raise ValueError(
            f'{cfg.filename}: no test pipeline found (neither '
            'test_dataloader.dataset.pipeline nor test_pipeline).')
    return [
        copy.deepcopy(t) for t in pipeline
        if t['type'] not in ANNOTATION_LOADERS
    ]


class UnlabeledImages(torch.utils.data.Dataset):
    """The images of a source, each through the test pipeline.

    An image that cannot be read or transformed gives
    ``{ERROR_KEY: reason, 'index': i, 'img_path': path}`` instead of
    raising, so one corrupt file does not stop the run.

    Args:
        items (ImageList | Sequence[tuple[str, int]]): ``(path,
            image_id)`` of each image, e.g. from :func:`list_images`.
        root (str): Root of relative paths.
        pipeline (list[dict]): Test pipeline configs.
    """

    def __init__(self, items: Sequence[Tuple[str, int]], root: str,
                 pipeline: list):
        self.items = items
        self.root = root
        self.pipeline = Compose(pipeline)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        path, img_id = self.items[index]
        img_path = osp.join(self.root, path)
        try:
            data = self.pipeline(
                dict(img_path=img_path, img_id=img_id, index=index))
            if data is None:
                raise ValueError('the test pipeline returned None')
        except Exception as e:  # noqa: BLE001 (any failure is reported)
            return {
                ERROR_KEY: f'{type(e).__name__}: {e}',
                'index': index,
                'img_path': img_path
            }
        data['index'] = index
        return data


def collate_with_errors(batch: list) -> dict:
    """Split a batch into the readable images (``pseudo_collate``d, as
    ``model.test_step`` expects) and the error markers."""
    good = [b for b in batch if ERROR_KEY not in b]
    return dict(
        indexes=[b['index'] for b in good],
        data=pseudo_collate([{
            k: b[k]
            for k in ('inputs', 'data_samples')
        } for b in good]) if good else None,
        errors=[b for b in batch if ERROR_KEY in b])


class ChunkBatches:
    """The batches of image indexes of some chunks, generated lazily (a
    DataLoader ``batch_sampler``): chunk ``c`` holds images ``c *
    chunk_size`` up to the next chunk or ``num_images``, batches never span
    two chunks.

    Args:
        chunks (Sequence[int]): The chunks, in the order to label them.
        chunk_size (int): Images per chunk.
        batch_size (int): Images per batch.
        num_images (int): Images of the source.
    """

    def __init__(self, chunks: Sequence[int], chunk_size: int, batch_size: int,
                 num_images: int):
        self.chunks = list(chunks)
        self.chunk_size = chunk_size
        self.batch_size = batch_size
        self.num_images = num_images

    def _bounds(self, c):
        return c * self.chunk_size, min((c + 1) * self.chunk_size,
                                        self.num_images)

    def __iter__(self):
        for c in self.chunks:
            start, stop = self._bounds(c)
            for first in range(start, stop, self.batch_size):
                yield list(range(first, min(first + self.batch_size, stop)))

    def __len__(self) -> int:
        return sum(-(-(b - a) // self.batch_size)
                   for a, b in map(self._bounds, self.chunks))

    def num_chunk_images(self) -> int:
        return sum(b - a for a, b in map(self._bounds, self.chunks))
