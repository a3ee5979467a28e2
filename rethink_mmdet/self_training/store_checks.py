"""What a pseudo-label store must hold for the student that reads it, each
refused at load with the file, the reason and the fix (Zoph et al. 2020,
Sec. 3: the student's threshold, its task and its pseudo images come from
one store; a mismatch found at the first batch would cost a job).
"""
import numpy as np

from .store import PseudoLabelStoreError

__all__ = ['check_score_thr', 'check_masks', 'no_image_left']


def check_score_thr(score_thr: float, meta: dict, meta_file: str) -> None:
    """Refuse a non-finite threshold, or one below the store's floor (the
    store holds no box below it)."""
    floor = float(meta.get('score_floor', 0.0))
    if not np.isfinite(score_thr):
        raise PseudoLabelStoreError(
            f'{meta_file}: score_thr={score_thr} is not a finite number')
    if score_thr < floor:
        raise PseudoLabelStoreError(
            f'{meta_file}: score_thr={score_thr} is below the store\'s '
            f'score_floor {floor}: the store does not hold boxes scoring '
            f'below {floor}. Use score_thr >= {floor}, or re-label with a '
            'lower floor (tools/pseudo_label.py).')


def check_masks(meta: dict, pipeline, meta_file: str) -> None:
    """Refuse a pipeline that loads masks from a store without masks (a
    box-only teacher, e.g. RetinaNet, labeling for a Mask R-CNN student):
    mmdet's loader would fail at the first batch with a bare
    ``KeyError: 'mask'``."""
    if meta.get('has_masks', False):
        return
    wanted = [
        type(t).__name__ for t in getattr(pipeline, 'transforms', [])
        if getattr(t, 'with_mask', False)
    ]
    if wanted:
        teacher = meta.get('teacher') or {}
        raise ValueError(
            f'{meta_file}: the store holds boxes only (its teacher: '
            f'{teacher.get("config", "?")}, checkpoint '
            f'{teacher.get("checkpoint", "?")}), but the pipeline loads '
            f'masks ({", ".join(wanted)} with with_mask=True). Label the '
            'images with an instance-segmentation teacher (e.g. Mask '
            'R-CNN), or train a box-only student: with_mask=False and a '
            'detector without a mask head.')


def no_image_left(dataset) -> PseudoLabelStoreError:
    """The error for a threshold, class map, filter or ``indices`` that
    leave a ``PseudoLabelDataset`` no image (an empty pseudo-label set
    would train the student on human labels only)."""
    s = dataset.load_stats
    best = None if s['max_score'] is None else f'{s["max_score"]:.4g}'
    return PseudoLabelStoreError(
        f'{dataset._meta_file}: no image left: score_thr='
        f'{dataset.score_thr}, keep_empty={dataset.keep_empty}, filter_cfg='
        f'{dataset.filter_cfg}, indices={dataset._indices} leave none of the '
        f'{s["num_images"]} images ({s["num_kept_boxes"]} of '
        f'{s["num_boxes"]} boxes kept; highest score of a valid box of a '
        f'mapped class: {best}). Lower score_thr, check class_map, or set '
        'keep_empty=True.')
