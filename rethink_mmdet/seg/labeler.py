# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Pseudo-label unlabeled images with a teacher segmentor (Zoph et al.
2020, Sec. 3.2).

The teacher runs multi-scale inference (scales 0.5..1.75, + horizontal
flip) through its public ``test_step`` (:mod:`.multi_scale`); the class
probabilities averaged over the views give the argmax class where the
average is >= 0.5, the ignore index (255) elsewhere. Each image's label map
is a PNG of the store (:mod:`.pseudo_store`), with its mean confidence and
ignored fraction.

The work is the detection labeler's (:mod:`rethink_mmdet.self_training.
labeler`): the same listing (:func:`list_images`: a folder, a list file or
an image-only COCO JSON), chunks of ``chunk_size`` images (chunk ``c`` on
rank ``c % world_size``, batches within a chunk only, written as soon as
done, completed chunks skipped on a rerun), the same run-identity check
(with the threshold, scales and flip in it) and rank 0 finalizing after a
barrier, so the store's bytes do not depend on the number of ranks or on
interruptions. Nothing is gathered: memory does not grow with the number
of images.
"""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import MMLogger, print_log

from rethink_mmdet.self_training.image_list import list_images
from rethink_mmdet.self_training.label_identity import TEACHER_SOURCE_KEYS
from rethink_mmdet.self_training.labeler import (check_store, collect_results,
                                                 ranges)
from rethink_mmdet.self_training.store import (completed_chunks,
                                               write_chunk_columns)
from rethink_mmdet.self_training.store.columns import offsets, read_json
from rethink_mmdet.self_training.store.layout import (IMAGE_HW, IMAGE_IDS,
                                                      IMAGE_PATH_OFFSETS,
                                                      IMAGE_PATHS, META_FILE)
from rethink_mmdet.self_training.teacher import build_teacher, teacher_meta
from rethink_mmdet.self_training.unlabeled_images import (ChunkBatches,
                                                          UnlabeledImages,
                                                          collate_with_errors,
                                                          test_pipeline_cfg)
from rethink_mmdet.utils import progress
from .multi_scale import (IGNORE_INDEX, PAPER_SCALES, average_probabilities,
                          hard_labels, multi_scale_pipeline)
from .pseudo_store import (IGNORE_FRACTION, MEAN_CONFIDENCE, SEG_COLUMNS,
                           SOURCE_INDEXES, finalize_seg_store, write_label_map)

__all__ = ['PAPER_SCALES', 'SEG_IDENTITY_KEYS', 'label_seg_images']

CREATED_BY = 'rethink_mmdet.seg.labeler'
#: What makes two segmentation labeling runs the same run.
SEG_IDENTITY_KEYS = TEACHER_SOURCE_KEYS + (
    (None, 'prob_thr', 'probability threshold (--prob-thr)'),
    (None, 'scales', 'inference scales (--scales)'),
    (None, 'flip', 'horizontal flip (--no-flip)'),
)
SEG_SETTINGS = ('teacher checkpoint, config, source, probability threshold, '
                'scales and flip')


def _columns(records) -> dict:
    """The chunk's columns from its image records."""
    paths = [r['path'].encode('utf-8') for r in records]
    return {
        IMAGE_IDS: np.array([r['image_id'] for r in records], np.int64),
        IMAGE_HW: np.array([r['hw'] for r in records],
                           np.int32).reshape(-1, 2),
        IMAGE_PATHS: b''.join(paths),
        IMAGE_PATH_OFFSETS: offsets([len(p) for p in paths]),
        SOURCE_INDEXES: np.array([r['index'] for r in records], np.int64),
        MEAN_CONFIDENCE: np.array([r['conf'] for r in records], np.float32),
        IGNORE_FRACTION: np.array([r['ignored'] for r in records], np.float32),
    }


def label_seg_images(cfg: Config,
                     checkpoint: str,
                     source: str,
                     out: str,
                     scales: Sequence[float] = PAPER_SCALES,
                     flip: bool = True,
                     prob_thr: float = 0.5,
                     chunk_size: int = 256,
                     batch_size: Optional[int] = None,
                     num_workers: Optional[int] = None,
                     img_root: Optional[str] = None,
                     device: Optional[str] = None) -> Optional[dict]:
    """Pseudo-label ``source`` with the teacher segmentor into ``out``.

    Called on every rank of an initialised process group (or in a single
    process), as :func:`rethink_mmdet.self_training.labeler.label_images`.

    Args:
        cfg (Config): Teacher config (an mmseg config: its ``model`` and
            test pipeline).
        checkpoint (str): Teacher checkpoint (path or URL).
        source (str): Image folder, text file of paths, or image-only COCO
            JSON (see :func:`list_images`).
        out (str): Store directory.
        scales (Sequence[float]): Inference scales relative to the test
            pipeline's ``Resize``. Defaults to :data:`PAPER_SCALES`.
        flip (bool): Add horizontally flipped views. Defaults to True.
        prob_thr (float): A pixel keeps its class when the averaged
            probability is >= this, else gets 255. Defaults to 0.5.
        chunk_size (int): Images per chunk. Defaults to 256.
        batch_size (int, optional): Images per forward pass (never across
            chunks). Defaults to None: ``test_dataloader.batch_size``,
            else 1.
        num_workers (int, optional): DataLoader workers. Defaults to None:
            ``test_dataloader.num_workers``, else 2.
        img_root (str, optional): Root of relative paths of list/COCO
            sources. Defaults to None (see :func:`list_images`).
        device (str, optional): Defaults to this rank's ``cuda`` device if
            available, else ``cpu``.

    Returns:
        dict | None: The store's meta on rank 0, None on other ranks.

    Raises:
        StoreMismatchError: ``out`` is a finished or interrupted store made
            with another teacher, config, source, threshold, scales or flip
            (or, interrupted, chunk size).
    """
    loader_cfg = cfg.get('test_dataloader') or {}
    batch_size = int(batch_size or loader_cfg.get('batch_size', 1))
    if num_workers is None:
        num_workers = int(loader_cfg.get('num_workers', 2))
    if chunk_size < 1 or batch_size < 1:
        raise ValueError(f'chunk_size ({chunk_size}) and batch_size '
                         f'({batch_size}) must be >= 1.')
    if not 0.0 <= prob_thr <= 1.0:
        raise ValueError(f'prob_thr={prob_thr}: a probability threshold is '
                         'in [0, 1] (Zoph et al. 2020: 0.5).')
    logger = MMLogger.get_current_instance()
    rank, world_size = get_dist_info()
    if device is None:
        device = (f'cuda:{torch.cuda.current_device()}'
                  if torch.cuda.is_available() else 'cpu')
    items, source_meta = list_images(source, img_root)
    meta_path = osp.join(out, META_FILE)
    meta = read_json(meta_path, 'meta') if osp.isfile(meta_path) else None
    identity = dict(
        teacher=teacher_meta(cfg, checkpoint, (meta or {}).get('teacher')),
        source=source_meta,
        prob_thr=float(prob_thr),
        scales=[float(s) for s in scales],
        flip=bool(flip))
    check_store(out, meta, identity, chunk_size, logger, SEG_IDENTITY_KEYS,
                SEG_SETTINGS)
    if meta is not None:
        return meta if rank == 0 else None
    num_chunks = -(-len(items) // chunk_size)
    done = completed_chunks(out)
    todo = [c for c in range(num_chunks) if c not in done]
    if done:
        print_log(
            f'resuming {out}: {len(done)} of {num_chunks} chunks already '
            f'written, skipping chunks {ranges(sorted(done))}', logger)
    print_log(
        f'{len(items)} images from {source_meta["kind"]} {source} in '
        f'{num_chunks} chunks of {chunk_size}; {len(todo)} chunks to label '
        f'on {world_size} rank(s) in batches of {batch_size}, '
        f'{len(scales) * (2 if flip else 1)} views per image (scales '
        f'{list(scales)}, flip {flip}), probability >= {prob_thr}', logger)

    model = build_teacher(cfg, checkpoint, device)
    pipeline = multi_scale_pipeline(test_pipeline_cfg(cfg), scales, flip)
    loader = torch.utils.data.DataLoader(
        UnlabeledImages(items, source_meta['root'], pipeline),
        batch_sampler=ChunkBatches(todo[rank::world_size], chunk_size,
                                   batch_size, len(items)),
        num_workers=num_workers,
        collate_fn=collate_with_errors)
    total = ChunkBatches(todo, chunk_size, 1, len(items)).num_chunk_images()
    bar = progress(
        total=total,
        desc='pseudo-labeling (seg)',
        enabled=rank == 0,
        unit='img',
        smoothing=0.1)
    records, skipped, chunk = [], [], None

    def flush():
        write_chunk_columns(out, chunk, chunk * chunk_size, _columns(records),
                            skipped, {
                                k: v[0]
                                for k, v in SEG_COLUMNS.items()
                            })

    for batch in loader:
        first = (batch['indexes'] or [e['index'] for e in batch['errors']])[0]
        if chunk is not None and first // chunk_size != chunk:
            flush()
            records, skipped = [], []
        chunk = first // chunk_size
        probs = (
            average_probabilities(model, batch['data'])
            if batch['data'] is not None else [])
        results = {e['index']: e for e in batch['errors']}
        for index, p in zip(batch['indexes'], probs):
            label, conf, ignored = hard_labels(p, prob_thr, IGNORE_INDEX)
            write_label_map(out, index, label)
            path, image_id = items[index]
            results[index] = dict(
                path=path,
                image_id=image_id,
                hw=label.shape,
                index=index,
                conf=conf,
                ignored=ignored)
        collect_results(results, records, skipped, logger)
        bar.update(min(len(results) * world_size, total - bar.n))
    if chunk is not None:
        flush()
    bar.update(total - bar.n)
    bar.close()

    barrier()
    if rank != 0:
        return None
    meta = finalize_seg_store(
        out,
        dict(
            classes=list(model.dataset_meta['classes']),
            ignore_index=IGNORE_INDEX,
            chunk_size=chunk_size,
            created_by=CREATED_BY,
            **identity))
    print_log(
        f'segmentation pseudo-label store {out}: {meta["num_images"]} '
        f'label maps, {meta["num_skipped"]} skipped', logger)
    return meta
