"""The labeler's score floor applied to the teacher itself.

Zoph et al. 2020 (Sec. 3.2) keep the teacher's boxes above a score
threshold; the labeler stores every box down to a lower floor so that the
students' threshold can be chosen later (and the pseudo-label quality
shown at several). A detector drops the boxes below its own
``test_cfg.score_thr`` (mmdet's 0.05) before the labeler sees them, so a
floor below it would silently be the detector's. :func:`lower_score_floor`
lowers the teacher's thresholds to the floor.
"""
from typing import List

__all__ = ['lower_score_floor']


def lower_score_floor(model_cfg: dict, score_thr: float) -> List[str]:
    """Lower every ``score_thr`` of the model's ``test_cfg`` dicts (one-stage
    heads: ``test_cfg.score_thr``; two-stage: ``test_cfg.rcnn.score_thr``;
    at any depth, e.g. under a wrapper's ``detector``) that is above the
    labeler's floor to the floor, in place: a detector drops the boxes
    below its own ``score_thr`` before the labeler sees them, so with
    mmdet's 0.05 a floor of 0.01 would otherwise keep only boxes >= 0.05.

    Returns:
        list[str]: The dotted keys lowered, with their former values.
    """
    lowered = []

    def walk(node, path, in_test_cfg):
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            name = f'{path}.{key}' if path else key
            if (in_test_cfg and key == 'score_thr'
                    and isinstance(value, (int, float)) and value > score_thr):
                node[key] = score_thr
                lowered.append(f'{name} {value} -> {score_thr}')
            else:
                walk(value, name, in_test_cfg or key == 'test_cfg')

    walk(model_cfg, 'model', False)
    return lowered
