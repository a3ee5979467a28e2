# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""``LoadPseudoAnnotations``: mmdet's ``LoadAnnotations`` plus the teacher's
score of every pseudo box.

Zoph et al. 2020 train the student on hard pseudo labels; an optional
score-weighted pseudo loss (``SelfTrainingDetector(score_weighted=True)``)
needs the teacher's score beside each box. ``PseudoLabelDataset`` puts it in
every instance (``instance['score']``); mmdet's ``LoadAnnotations`` and
``PackDetInputs`` drop it. This transform loads it as ``gt_scores``, one per
loaded box in the order of ``gt_bboxes`` (ignored boxes included, as
``gt_ignore_flags``), and ``PackStudentInputs`` packs it into
``gt_instances.scores``.
"""
import numpy as np

from mmdet.datasets.transforms import LoadAnnotations
from mmdet.registry import TRANSFORMS
from .sources import SCORE_KEY

__all__ = ['LoadPseudoAnnotations']


@TRANSFORMS.register_module()
class LoadPseudoAnnotations(LoadAnnotations):
    """Load annotations and the teacher score of each pseudo box.

    Required Keys:

    - height
    - width
    - instances

      - bbox (optional)
      - bbox_label
      - mask (optional)
      - ignore_flag
      - score (float, the teacher's confidence)

    - seg_map_path (optional)

    Added Keys:

    - gt_bboxes (BaseBoxes[torch.float32])
    - gt_bboxes_labels (np.int64)
    - gt_masks (BitmapMasks | PolygonMasks)
    - gt_seg_map (np.uint8)
    - gt_ignore_flags (bool)
    - gt_scores (np.float32), with ``with_bbox=True``

    Transforms that drop boxes (``RandomCrop``, ``FilterAnnotations``...)
    must drop the same entries of ``gt_scores`` (mmdet's own drop only
    boxes, labels, masks and ignore flags).

    Args:
        default_score (float, optional): Score of an instance without
            ``'score'``; None raises a ``KeyError`` for such an instance
            (a human annotation in a pseudo pipeline). Defaults to None.
        **kwargs: The arguments of mmdet's ``LoadAnnotations``
            (``with_bbox``, ``with_label``, ``with_mask``, ``poly2mask``,
            ``box_type``, ``backend_args``...).
    """

    def __init__(self, default_score=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.default_score = None if default_score is None else \
            float(default_score)

    def _load_scores(self, results: dict) -> None:
        scores = []
        for i, instance in enumerate(results.get('instances', [])):
            score = instance.get('score', self.default_score)
            if score is None:
                raise KeyError(
                    f'LoadPseudoAnnotations: instance {i} of '
                    f'{results.get("img_path")} has no "score". Use it only '
                    'on PseudoLabelDataset pipelines (which give each box '
                    'its teacher score), or set default_score.')
            scores.append(score)
        results[SCORE_KEY] = np.array(scores, dtype=np.float32)

    def transform(self, results: dict) -> dict:
        """Load the annotations of ``LoadAnnotations`` and ``gt_scores``.

        Args:
            results (dict): Result dict from the dataset.

        Returns:
            dict: ``results`` with the added keys.
        """
        results = super().transform(results)
        if self.with_bbox:
            self._load_scores(results)
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', default_score={self.default_score})')
