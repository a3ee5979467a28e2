# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""The segmentation teacher's multi-scale inference (Zoph et al. 2020,
Sec. 3.2): class probabilities averaged over scales x flips, kept where the
average is confident.

"the teacher model [...] uses multi-scale inference [scales 0.5, 0.75, 1,
1.25, 1.5, 1.75]"; pseudo labels keep a pixel's argmax class when its
(averaged) probability is at least 0.5, the ignore label elsewhere.

The augmented views are made by mmcv's ``TestTimeAug`` (as mmseg's
``tta_pipeline``) over the teacher's own test pipeline, whose ``Resize``
scale is multiplied by each scale; each view goes through the segmentor's
public ``test_step``, whose ``postprocess_result`` removes the padding,
flips the logits back and resizes them to the original image size. The
softmax of the logits is averaged there, as mmseg's ``SegTTAModel`` does.
"""
import copy
from typing import List, Sequence

import numpy as np
import torch

__all__ = [
    'PAPER_SCALES', 'IGNORE_INDEX', 'multi_scale_pipeline',
    'average_probabilities', 'hard_labels'
]

#: Zoph et al. 2020, Sec. 3.2: the teacher's inference scales.
PAPER_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
#: Zoph et al. 2020, Sec. 3.2: the ignore label of unconfident pixels
#: (PASCAL VOC's 255, mmseg's default ``ignore_index``).
IGNORE_INDEX = 255
#: Transform types whose scale the views multiply.
RESIZE_TYPES = ('Resize', 'mmseg.Resize', 'mmcv.Resize')
#: Transforms that load the image (kept ahead of the views).
LOADING_TYPES = ('LoadImageFromFile', 'mmseg.LoadImageFromFile',
                 'mmcv.LoadImageFromFile', 'LoadImageFromNDArray')
#: The annotation loader mmseg's ``tta_pipeline`` puts in every view.
LOAD_ANNOTATIONS = dict(type='LoadAnnotations')


def _scaled(resize: dict, factor: float) -> dict:
    """``resize`` with its ``scale`` (or ``scale_factor``) times
    ``factor``."""
    out = copy.deepcopy(dict(resize))
    if out.get('scale') is not None:
        scale = out['scale']
        scale = (scale, scale) if isinstance(scale, (int, float)) else scale
        out['scale'] = tuple(int(round(s * factor)) for s in scale)
    else:
        out['scale_factor'] = float(out.get('scale_factor') or 1.0) * factor
        out.pop('scale', None)
    return out


def multi_scale_pipeline(test_pipeline: Sequence[dict],
                         scales: Sequence[float] = PAPER_SCALES,
                         flip: bool = True,
                         with_annotations: bool = False) -> List[dict]:
    """The teacher's test pipeline as multi-scale (+ flip) views.

    The loading transforms stay in front; the first ``Resize`` becomes one
    view per scale (its ``scale``, or ``scale_factor``, times the scale; a
    pipeline without one gets ``Resize(scale_factor=s, keep_ratio=True)``),
    each unflipped then, with ``flip``, flipped horizontally; the
    transforms after the ``Resize`` follow in every view. Views are
    ordered scale-major: ``(s0, no flip), (s0, flip), (s1, no flip), ...``.

    Args:
        test_pipeline (Sequence[dict]): The test pipeline (annotation
            loading removed, e.g. by
            :func:`rethink_mmdet.self_training.unlabeled_images.test_pipeline_cfg`).
        scales (Sequence[float]): Scales relative to the test pipeline's.
            Defaults to :data:`PAPER_SCALES`.
        flip (bool): Add the horizontally flipped views. Defaults to True.
        with_annotations (bool): Load the class map in every view (mmseg's
            ``tta_pipeline`` for ``tools/test.py --tta``). Defaults to False.

    Returns:
        list[dict]: Loading transforms + one ``TestTimeAug``.
    """
    if not scales:
        raise ValueError('multi-scale inference needs at least one scale '
                         '(--scales), e.g. 1.0 for single-scale.')
    loading, rest, resize = [], [], None
    for t in test_pipeline:
        if resize is None and t['type'] in RESIZE_TYPES:
            resize = t
        elif resize is None and not rest and t['type'] in LOADING_TYPES:
            loading.append(copy.deepcopy(t))
        else:
            rest.append(copy.deepcopy(t))
    if resize is None:
        resize = dict(type='Resize', scale_factor=1.0, keep_ratio=True)
    flips = [dict(type='RandomFlip', prob=0., direction='horizontal')]
    if flip:
        flips.append(dict(type='RandomFlip', prob=1., direction='horizontal'))
    views = [[_scaled(resize, float(s)) for s in scales], flips]
    if with_annotations:
        views.append([dict(LOAD_ANNOTATIONS)])
    views += [[t] for t in rest]
    return loading + [dict(type='TestTimeAug', transforms=views)]


def _softmax_views(model, inputs, samples) -> List[torch.Tensor]:
    """Class probabilities (C, H, W) at the original size of each image
    of one view; images of different input sizes go through ``test_step``
    in groups of one size (the data preprocessor stacks a batch)."""
    groups = {}
    for i, x in enumerate(inputs):
        groups.setdefault(tuple(x.shape), []).append(i)
    out = [None] * len(inputs)
    for idx in groups.values():
        preds = model.test_step(
            dict(
                inputs=[inputs[i] for i in idx],
                data_samples=[samples[i] for i in idx]))
        for i, pred in zip(idx, preds):
            logits = pred.seg_logits.data.float()
            if logits.shape[0] == 1:  # one sigmoid channel: binary
                # (postprocess_result already applied the sigmoid)
                out[i] = torch.cat([1 - logits, logits])
            else:
                out[i] = logits.softmax(dim=0)
    return out


@torch.no_grad()
def average_probabilities(model, data: dict) -> List[torch.Tensor]:
    """Average the class probabilities of every view of a batch.

    Args:
        model: An mmseg segmentor (``BaseSegmentor``) in eval mode.
        data (dict): A ``pseudo_collate``-d batch of
            :func:`multi_scale_pipeline` outputs: ``inputs`` and
            ``data_samples``, each a list (one per view) of lists (one per
            image).

    Returns:
        list[torch.Tensor]: Per image, (C, H, W) float32 class
        probabilities at its original size, averaged over the views.
    """
    sums = None
    num_views = len(data['inputs'])
    for inputs, samples in zip(data['inputs'], data['data_samples']):
        probs = _softmax_views(model, inputs, samples)
        sums = probs if sums is None else [a + p for a, p in zip(sums, probs)]
    return [s / num_views for s in sums]


def hard_labels(probs: torch.Tensor,
                prob_thr: float = 0.5,
                ignore_index: int = IGNORE_INDEX) -> tuple:
    """Zoph et al. 2020, Sec. 3.2: the argmax class where its averaged
    probability is >= ``prob_thr``, ``ignore_index`` elsewhere.

    Args:
        probs (torch.Tensor): (C, H, W) averaged class probabilities.
        prob_thr (float): Defaults to 0.5 (the paper's).
        ignore_index (int): Defaults to 255.

    Returns:
        tuple[np.ndarray, float, float]: The (H, W) uint8 label map, the
        mean over pixels of the highest probability and the fraction of
        pixels set to ``ignore_index``.
    """
    if probs.shape[0] > ignore_index:
        raise ValueError(
            f'{probs.shape[0]} classes do not fit a uint8 label map with '
            f'ignore index {ignore_index}: label maps hold classes '
            f'0..{ignore_index - 1}.')
    top, label = probs.max(dim=0)
    keep = top >= prob_thr
    label = torch.where(keep, label, torch.full_like(label, ignore_index))
    label = label.cpu().numpy().astype(np.uint8)
    mean_conf = float(top.double().mean())
    ignored = float(1.0 - keep.double().mean())
    return label, mean_conf, ignored
