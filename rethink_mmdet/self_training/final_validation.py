"""A round's evaluation read from the training's own last validation.

``tools/self_train.py`` evaluates the round-1 teacher and every student on
the test split (Zoph et al. 2020 compare the student's AP with its
teacher's, Sec. 4). When a training config tests on exactly what it
validates on (mmdet's COCO configs: ``test_dataloader = val_dataloader``,
``test_evaluator = val_evaluator``) and the training validated right after
the iteration of its checkpoint, that validation *is* the evaluation: the
same weights, data and metric. Running ``tools/test.py`` again would cost a
process start-up and a pass over the evaluation set (on the main job's
students: 14 s of a 117 s run). Anything else (another test set, an
epoch-named checkpoint, no validation at that iteration, a log without the
exact iteration) returns None and the stage runs ``tools/test.py``.
"""
import os.path as osp
import re
from typing import Optional, Tuple

from mmengine.config import Config

from rethink_mmdet.utils.scalars import read_scalars, run_dirs

__all__ = ['validation_is_test', 'final_validation_metrics']

_ITER_CKPT = re.compile(r'iter_(\d+)\.pth')
_NOT_METRICS = ('step', 'time', 'data_time')


def validation_is_test(cfg: Config) -> bool:
    """Whether ``cfg``'s test split and metric are its validation ones."""
    val, test = cfg.get('val_dataloader'), cfg.get('test_dataloader')
    if not val or not test or cfg.get('val_evaluator') is None:
        return False
    return (val.get('dataset') == test.get('dataset')
            and cfg.get('val_evaluator') == cfg.get('test_evaluator'))


def final_validation_metrics(cfg: Config,
                             checkpoint: str) -> Optional[Tuple[dict, str]]:
    """The metrics of the validation that ran right after the iteration
    of ``checkpoint`` (``WORK_DIR/iter_N.pth``) in its training, read from
    ``WORK_DIR/{timestamp}/vis_data/scalars.json``.

    The validation counts only where the scalars log has a line of
    iteration ``N`` right before it (``ImagesSeenHook`` writes one
    before every validation; a ``LoggerHook`` line does where its interval
    divides ``N``).

    Args:
        cfg (Config): The config the checkpoint was trained with.
        checkpoint (str): Path of the checkpoint.

    Returns:
        tuple[dict, str] | None: ``(metrics, scalars.json path)``, or None
        when the validation is not the evaluation or is not found.
    """
    match = _ITER_CKPT.fullmatch(osp.basename(checkpoint))
    if match is None or not validation_is_test(cfg):
        return None
    iteration = int(match.group(1))
    logs = [
        osp.join(run, 'vis_data', 'scalars.json')
        for run in run_dirs(osp.dirname(checkpoint))
    ]
    for path in reversed(logs):  # a resumed run: the newest first
        rows = read_scalars(path)
        for i in reversed(range(len(rows) - 1)):
            after = rows[i + 1]
            if (rows[i].get('iter') == iteration and 'iter' not in after
                    and any(k not in _NOT_METRICS for k in after)):
                return {k: v for k, v in after.items() if k != 'step'}, path
    return None
