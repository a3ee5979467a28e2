"""Point any detector config at the built-in shapes dataset.

Used by the demo, the benchmarks and the tests to run real COCO configs
(e.g. the He et al. 2019 grid) on data the package generates: the COCO
annotation files and image folders are swapped for the shapes ones, the
class names set to :data:`~.shapes.SHAPES_CLASSES`, and every head's
``num_classes`` set to the 4 shapes classes: a COCO head (80 classes) would
predict class indexes >= 4, on which mmdet's ``CocoMetric.results2json``
fails (``IndexError``).
"""
import os.path as osp

from .shapes import SHAPES_CLASSES

_SPLITS = (('train', 'instances_train.json',
            'train/'), ('val', 'instances_val.json', 'val/'),
           ('test', 'instances_val.json', 'val/'))


def _set_num_classes(cfg, num_classes: int) -> int:
    """Set every ``num_classes`` key in a model config (heads, Cascade
    R-CNN's per-stage box heads, a wrapped ``detector``), in place; the RPN
    head (class-agnostic) is left alone. Returns how many were set."""
    count = 0
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'num_classes':
                cfg[key] = num_classes
                count += 1
            elif key != 'rpn_head':
                count += _set_num_classes(value, num_classes)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            count += _set_num_classes(value, num_classes)
    return count


def use_shapes_data(cfg, data_root: str, num_workers: int = None) -> None:
    """Point the dataloaders, evaluators and heads of ``cfg`` at the shapes
    dataset in ``data_root``.

    Args:
        cfg (Config): An mmdet config with ``{train,val,test}_dataloader``
            and ``{val,test}_evaluator``; changed in place.
        data_root (str): A directory written by
            :func:`~.shapes.make_shapes`.
        num_workers (int, optional): Dataloader workers; 0 also turns off
            persistent workers. Defaults to None (keep the config's).
    """
    data_root = data_root.rstrip('/') + '/'
    if cfg.get('model') is not None:
        _set_num_classes(cfg.model, len(SHAPES_CLASSES))
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
