"""Metric collection from mmengine's scalar logs.

Every mmengine run writes ``<work_dir>/<timestamp>/vis_data/scalars.json``
(``LocalVisBackend``; a TensorBoard backend beside it changes nothing
here): one JSON object per line, training lines with ``iter`` (and
``loss*``, ``lr``, ``images_seen``... when :class:`ImagesSeenHook` runs),
validation lines with the metrics (``coco/bbox_mAP``...). A resumed run
starts a new timestamp folder; :func:`read_history` joins them in time
order, a later folder replacing the iterations it repeats.

The step mmengine writes for a validation line is the *epoch* unless
``default_hooks.logger.log_metric_by_epoch=False`` (0 for every
evaluation of an iteration-based run by default), so it is not used: an
evaluation belongs to the training line logged just before it, and its
``iter`` / ``images_seen`` / ``pixels_seen`` are that line's (exact when
evaluations fall on logging iterations, as with ``val_interval`` a
multiple of the logger interval).

He et al. 2019, Fig. 1/2: AP against iterations, images and pixels seen.
"""
import glob
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from rethink_mmdet.utils.scalars import read_scalars, run_dirs

__all__ = [
    'ITER', 'IMAGES', 'PIXELS', 'History', 'run_dirs', 'read_scalars',
    'read_history', 'workdir_wall_time'
]

ITER, IMAGES, PIXELS = 'iter', 'images_seen', 'pixels_seen'


@dataclass
class History:
    """The scalar history of one training work dir.

    Attributes:
        train (list[dict]): Training lines in iteration order.
        val (list[dict]): Evaluations, each with ``iter`` / ``images_seen``
            / ``pixels_seen`` of the training line before it (absent if not
            logged).
        dirs (list[str]): The run folders read, oldest first.
    """
    train: List[dict] = field(default_factory=list)
    val: List[dict] = field(default_factory=list)
    dirs: List[str] = field(default_factory=list)

    def final(self, key: str) -> Optional[float]:
        """The last logged value of ``key`` (evaluations first, then
        training lines), or None."""
        for rec in reversed(self.val):
            if key in rec:
                return float(rec[key])
        for rec in reversed(self.train):
            if key in rec:
                return float(rec[key])
        return None

    def curve(self, key: str, x: str = ITER) -> List[tuple]:
        """``[(x, value)]`` of ``key`` (evaluation or training scalar) with
        x one of ``iter``, ``images_seen``, ``pixels_seen``; points without
        that x are left out."""
        source = self.val if any(key in r for r in self.val) else self.train
        return [(float(r[x]), float(r[key])) for r in source
                if key in r and x in r]

    def total(self, key: str) -> Optional[float]:
        """The last value of a training counter (``images_seen``...)."""
        for rec in reversed(self.train):
            if key in rec:
                return float(rec[key])
        return None


def read_history(work_dir: str) -> History:
    """Join the scalar logs of every run folder of ``work_dir``."""
    hist = History()
    for run in run_dirs(work_dir):
        lines = read_scalars(osp.join(run, 'vis_data', 'scalars.json'))
        first = next((r[ITER] for r in lines if ITER in r), None)
        if first is not None:  # a resumed run repeats iterations >= first
            hist.train = [r for r in hist.train if r[ITER] < first]
            hist.val = [r for r in hist.val if r.get(ITER, 0) < first]
        last: Dict[str, float] = {}
        for rec in lines:
            if ITER in rec:
                if hist.train and hist.train[-1][ITER] == rec[ITER]:
                    # one line per iteration: ImagesSeenHook's exact totals
                    # (before a validation, at the end) may repeat the
                    # LoggerHook's iteration
                    hist.train[-1] = {**hist.train[-1], **rec}
                else:
                    hist.train.append(rec)
                last = {k: rec[k] for k in (ITER, IMAGES, PIXELS) if k in rec}
            elif any(k not in ('step', 'time', 'data_time') for k in rec):
                hist.val.append({**rec, **last})
        hist.dirs.append(run)
    return hist


def _started(run_dir: str) -> Optional[float]:
    try:
        return time.mktime(
            time.strptime(osp.basename(run_dir), '%Y%m%d_%H%M%S'))
    except ValueError:
        return None


def workdir_wall_time(work_dir: str) -> Optional[float]:
    """Seconds spent in the mmengine runs below ``work_dir`` (any depth):
    per run folder, its newest file's time minus the folder's timestamp.
    The fallback when no start/end was recorded (e.g. a SLURM job without
    accounting); stages that start no mmengine runner (pseudo-labeling)
    are not in it."""
    total, found = 0.0, False
    for log in glob.glob(osp.join(work_dir, '**', '*.log'), recursive=True):
        run = osp.dirname(log)
        start = _started(run)
        if start is None or osp.basename(log) != osp.basename(run) + '.log':
            continue
        newest = max(
            osp.getmtime(osp.join(d, f)) for d, _, fs in os.walk(run)
            for f in fs)
        total += max(0.0, newest - start)
        found = True
    return total if found else None
