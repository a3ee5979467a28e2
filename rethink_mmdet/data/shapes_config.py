"""Point any detector config at the built-in shapes dataset.

Used by the demo, the benchmarks and the tests to run real COCO configs
(e.g. the He et al. 2019 grid) on data the package generates: the COCO
annotation files and image folders are swapped for the shapes ones and the
class names set to :data:`~.shapes.SHAPES_CLASSES`; models keep their COCO
heads (80 classes), which only changes what the labels index.
"""
import os.path as osp

from .shapes import SHAPES_CLASSES

_SPLITS = (('train', 'instances_train.json', 'train/'),
           ('val', 'instances_val.json', 'val/'),
           ('test', 'instances_val.json', 'val/'))


def use_shapes_data(cfg, data_root: str, num_workers: int = None) -> None:
    """Point the dataloaders and evaluators of ``cfg`` at ``data_root``.

    Args:
        cfg (Config): An mmdet config with ``{train,val,test}_dataloader``
            and ``{val,test}_evaluator``; changed in place.
        data_root (str): A directory written by
            :func:`~.shapes.make_shapes`.
        num_workers (int, optional): Dataloader workers; 0 also turns off
            persistent workers. Defaults to None (keep the config's).
    """
    data_root = data_root.rstrip('/') + '/'
    for split, ann, prefix in _SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        if loader is None:
            continue
        dataset = loader.dataset
        while 'dataset' in dataset:  # wrappers (RepeatDataset, ...)
            dataset = dataset.dataset
        dataset.data_root = data_root
        dataset.ann_file = f'annotations/{ann}'
        dataset.data_prefix = dict(img=prefix)
        dataset.metainfo = dict(classes=SHAPES_CLASSES)
        if num_workers is not None:
            loader.num_workers = num_workers
            loader.persistent_workers = num_workers > 0
    for split in ('val', 'test'):
        evaluator = cfg.get(f'{split}_evaluator')
        if evaluator is not None and 'ann_file' in evaluator:
            evaluator.ann_file = osp.join(data_root,
                                          'annotations/instances_val.json')
