"""Pseudo-label an unlabeled image collection with a teacher detector.

Zoph et al. 2020, Sec. 3: a teacher trained on the labeled data labels the
unlabeled images, without augmentation; the student later re-thresholds the
boxes by score, so every box at or above a low floor is kept with its score
(and its mask, as COCO RLE, for instance-segmentation teachers).

The work is split into chunks of ``chunk_size`` images in source order;
chunk ``c`` is labeled by rank ``c % world_size`` and written to the store
with :func:`~.store.write_chunk` as soon as it is done (nothing is gathered
to rank 0, so memory does not grow with the number of images). Chunks that
are already on disk (:func:`~.store.completed_chunks`) are skipped, so a
killed run restarted with the same command resumes; when every rank is done,
rank 0 merges the chunks in index order with :func:`~.store.finalize_store`,
so the store does not depend on the number of ranks or on interruptions.
Images are batched within a chunk only, for the same reason.

A rerun is safe (a requeued job, a restarted study): an interrupted store
resumes, a finished one is left as it is (nothing labeled, no error), and
either is refused with :class:`~.label_identity.StoreMismatchError` naming
the differences when the teacher checkpoint, its config, the source or the
score floor differ from those the store records (:mod:`.label_identity`).

Memory does not grow with the number of images: the listing is an
:class:`~.image_list.ImageList` (numpy arrays, about 16 bytes plus the path
per image) and the batches are generated per chunk (:class:`ChunkBatches`).
"""
import logging
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import MMLogger, print_log
from pycocotools import mask as mask_utils

from rethink_mmdet.utils import dump_json, progress
from .image_list import (IMAGE_EXTENSIONS, SOURCE_COCO, SOURCE_FOLDER,
                         SOURCE_KINDS, SOURCE_LIST, ImageList,
                         ImageSourceError, detect_source_kind, list_images)
from .label_identity import (IDENTITY_KEYS, RUN_FILE, StoreMismatchError,
                             check_same_run, file_sha256, run_identity)
from .store import (CHUNKS_DIR, META_FILE, completed_chunks, finalize_store,
                    write_chunk)
from .store.columns import read_json
from .teacher import build_teacher, teacher_meta, teacher_test_cfg
from .unlabeled_images import (ERROR_KEY, ChunkBatches, UnlabeledImages,
                               collate_with_errors, test_pipeline_cfg)

__all__ = [
    'IMAGE_EXTENSIONS', 'SOURCE_COCO', 'SOURCE_FOLDER', 'SOURCE_KINDS',
    'SOURCE_LIST', 'ImageList', 'ImageSourceError', 'StoreMismatchError',
    'UnlabeledImages', 'build_teacher', 'check_store', 'detect_source_kind',
    'file_sha256', 'label_images', 'list_images', 'ranges', 'test_pipeline_cfg'
]

CREATED_BY = 'rethink_mmdet.self_training.labeler'


def encode_masks(masks: np.ndarray) -> List[str]:
    """(k, h, w) binary masks -> COCO compressed-RLE ``counts`` strings."""
    if len(masks) == 0:
        return []
    rles = mask_utils.encode(
        np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    return [r['counts'].decode('ascii') for r in rles]


def to_record(path: str, img_id: int, sample, score_thr: float) -> dict:
    """One store record from a predicted ``DetDataSample``."""
    pred = sample.pred_instances
    keep = (pred.scores >= score_thr).cpu()
    height, width = sample.ori_shape[:2]
    masks = None
    if 'masks' in pred:
        masks = encode_masks(pred.masks.cpu()[keep].numpy())
    return dict(
        path=path,
        image_id=int(img_id),
        height=int(height),
        width=int(width),
        boxes=pred.bboxes.cpu()[keep].numpy().astype(np.float32).reshape(
            -1, 4),
        scores=pred.scores.cpu()[keep].numpy().astype(np.float32),
        labels=pred.labels.cpu()[keep].numpy().astype(np.int32),
        masks_rle=masks)


def check_store(out,
                meta,
                identity,
                chunk_size,
                logger,
                keys=IDENTITY_KEYS,
                settings='teacher checkpoint, config, source and score floor'):
    """Raise :class:`StoreMismatchError` if ``out`` is a finished store (of
    meta ``meta``) or an interrupted one made with other settings than this
    run (``identity``, ``chunk_size``); record them for an unfinished
    one. ``keys`` are the identity keys compared (the segmentation labeler
    passes its own), ``settings`` names them in the log line of a finished
    store."""
    if meta is not None:
        check_same_run(meta, identity, out, 'finished', keys)
        print_log(
            f'{out} is finished already, made with the same {settings}: '
            'nothing to do', logger)
        return
    run_file = osp.join(out, CHUNKS_DIR, RUN_FILE)
    if osp.isfile(run_file):
        recorded = read_json(run_file, 'run identity')
        check_same_run(recorded, identity, out, 'interrupted', keys)
        if recorded.get('chunk_size') != chunk_size:
            raise StoreMismatchError(
                f'{out} is an interrupted pseudo-label store written in '
                f'chunks of {recorded.get("chunk_size")} images, this run '
                f'asks for --chunk-size {chunk_size}: rerun with '
                f'--chunk-size {recorded.get("chunk_size")} to resume it.')
    else:  # a new store, or chunks of an older version (not recorded)
        os.makedirs(osp.dirname(run_file), exist_ok=True)
        dump_json(
            dict(identity, chunk_size=chunk_size), run_file, canonical=False)


def label_images(cfg: Config,
                 checkpoint: str,
                 source: str,
                 out: str,
                 score_thr: float = 0.5,
                 chunk_size: int = 256,
                 batch_size: Optional[int] = None,
                 num_workers: Optional[int] = None,
                 img_root: Optional[str] = None,
                 device: Optional[str] = None) -> Optional[dict]:
    """Pseudo-label ``source`` with the teacher into the store ``out``.

    Must be called on every rank of an initialised process group (or in a
    single process); each rank labels chunks ``rank, rank + world_size,
    ...`` and writes them; rank 0 finalizes the store after a barrier.
    A store ``out`` that is finished already, made with the same teacher
    checkpoint, config, source and ``score_thr``, is left as it is.

    Args:
        cfg (Config): Teacher config (its ``model`` and test pipeline).
        checkpoint (str): Teacher checkpoint (path or URL).
        source (str): Image folder, text file of paths, or image-only COCO
            JSON (see :func:`list_images`).
        out (str): Store directory.
        score_thr (float): Score floor; boxes below it are not kept.
            Defaults to 0.5 (Zoph et al. 2020).
        chunk_size (int): Images per chunk. Defaults to 256.
        batch_size (int, optional): Images per ``model.test_step``
            (batches never span two chunks). Defaults to None: the teacher
            config's ``test_dataloader.batch_size`` (as mmdet's
            ``tools/test.py``), else 1.
        num_workers (int, optional): DataLoader workers. Defaults to None:
            ``test_dataloader.num_workers``, else 2.
        img_root (str, optional): Root of relative paths of list/COCO
            sources. Defaults to None (see :func:`list_images`).
        device (str, optional): Defaults to ``cuda`` (this rank's device)
            if available, else ``cpu``.

    Returns:
        dict | None: The store's meta on rank 0, None on other ranks.

    Raises:
        StoreMismatchError: ``out`` is a finished or interrupted store made
            with another teacher checkpoint, config, source, score floor
            (or, interrupted, chunk size).
    """
    loader_cfg = cfg.get('test_dataloader') or {}
    if batch_size is None:
        batch_size = int(loader_cfg.get('batch_size', 1))
    if num_workers is None:
        num_workers = int(loader_cfg.get('num_workers', 2))
    if chunk_size < 1 or batch_size < 1:
        raise ValueError(f'chunk_size ({chunk_size}) and batch_size '
                         f'({batch_size}) must be >= 1.')
    logger = MMLogger.get_current_instance()
    rank, world_size = get_dist_info()
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device == 'cuda':
            device = f'cuda:{torch.cuda.current_device()}'
    items, source_meta = list_images(source, img_root)
    meta_path = osp.join(out, META_FILE)
    meta = read_json(meta_path, 'meta') if osp.isfile(meta_path) else None
    teacher = teacher_meta(cfg, checkpoint, (meta or {}).get('teacher'))
    identity = run_identity(teacher, source_meta, score_thr)
    check_store(out, meta, identity, chunk_size, logger)
    if meta is not None:
        return meta if rank == 0 else None
    num_chunks = (len(items) + chunk_size - 1) // chunk_size
    done = completed_chunks(out)
    todo = [c for c in range(num_chunks) if c not in done]
    if done:
        print_log(
            f'resuming {out}: {len(done)} of {num_chunks} chunks already '
            f'written, skipping chunks {ranges(sorted(done))}', logger)
    print_log(
        f'{len(items)} images from {source_meta["kind"]} {source} in '
        f'{num_chunks} chunks of {chunk_size}; {len(todo)} chunks to label '
        f'on {world_size} rank(s) in batches of {batch_size} with '
        f'{num_workers} loading worker(s)', logger)

    model = build_teacher(cfg, checkpoint, device, score_thr)
    dataset = UnlabeledImages(items, source_meta['root'],
                              test_pipeline_cfg(cfg))
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=ChunkBatches(todo[rank::world_size], chunk_size,
                                   batch_size, len(items)),
        num_workers=num_workers,
        collate_fn=collate_with_errors)

    total = ChunkBatches(todo, chunk_size, 1, len(items)).num_chunk_images()
    bar = progress(
        total=total,
        desc='pseudo-labeling',
        enabled=rank == 0,
        unit='img',
        smoothing=0.1)
    records, skipped, chunk = [], [], None

    def flush():
        write_chunk(out, chunk, chunk * chunk_size, records, skipped)

    with torch.no_grad():
        for batch in loader:
            first = (batch['indexes']
                     or [e['index'] for e in batch['errors']])[0]
            if chunk is not None and first // chunk_size != chunk:
                flush()
                records, skipped = [], []
            chunk = first // chunk_size
            samples = (
                model.test_step(batch['data'])
                if batch['data'] is not None else [])
            results = {}
            for index, sample in zip(batch['indexes'], samples):
                results[index] = to_record(*items[index], sample, score_thr)
            for err in batch['errors']:
                results[err['index']] = err
            collect_results(results, records, skipped, logger)
            # Rank 0 sees its own progress only: scale it by the world size
            # (chunks are dealt round-robin, so ranks advance alike).
            bar.update(min(len(results) * world_size, total - bar.n))
        if chunk is not None:
            flush()
    bar.update(total - bar.n)
    bar.close()

    barrier()
    if rank != 0:
        return None
    meta = dict(
        classes=list(model.dataset_meta['classes']),
        teacher_test_cfg=teacher_test_cfg(cfg),
        chunk_size=chunk_size,
        created_by=CREATED_BY,
        **identity)
    meta = finalize_store(out, meta)
    print_log(
        f'pseudo-label store {out}: {meta["num_images"]} images, '
        f'{meta["num_boxes"]} boxes (score >= {score_thr}), '
        f'{meta["num_skipped"]} skipped', logger)
    return meta


def collect_results(results: dict, records: list, skipped: list,
                    logger) -> None:
    """Append one batch's ``results`` (listing index -> record) to
    ``records`` in index order; an unreadable image (a record with
    ``ERROR_KEY``) goes to ``skipped`` instead, with a warning. Shared by
    the detection and the segmentation labeler."""
    for index in sorted(results):
        res = results[index]
        if ERROR_KEY in res:
            skipped.append(dict(path=res['img_path'], reason=res[ERROR_KEY]))
            print_log(
                f'skipped unreadable image {res["img_path"]}: '
                f'{res[ERROR_KEY]}',
                logger,
                level=logging.WARNING)
        else:
            records.append(res)


def ranges(indexes: List[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``'[0-2, 5]'`` (short for many chunks)."""
    parts, start = [], None
    for i, c in enumerate(indexes):
        if start is None:
            start = c
        if i + 1 == len(indexes) or indexes[i + 1] != c + 1:
            parts.append(str(start) if start == c else f'{start}-{c}')
            start = None
    return '[' + ', '.join(parts) + ']'
