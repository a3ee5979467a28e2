"""Reading mmengine's ``{work_dir}/{timestamp}/vis_data/scalars.json`` (the
``LocalVisBackend`` log of a run): the run folders of a work dir and the
lines of one log. Read by the study's histories
(:mod:`rethink_mmdet.study.metrics`) and by the self-training rounds,
which take an evaluation from a training's own final validation
(:mod:`rethink_mmdet.self_training.final_validation`).
"""
import json
import os
import os.path as osp
import re
from typing import List

__all__ = ['TIMESTAMP_RE', 'run_dirs', 'read_scalars']

#: mmengine's run folder names (``%Y%m%d_%H%M%S``).
TIMESTAMP_RE = re.compile(r'^\d{8}_\d{6}$')


def run_dirs(work_dir: str) -> List[str]:
    """The mmengine run folders of ``work_dir`` with a ``scalars.json``,
    oldest first."""
    if not osp.isdir(work_dir):
        return []
    return [
        osp.join(work_dir, d) for d in sorted(os.listdir(work_dir))
        if TIMESTAMP_RE.match(d)
        and osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json'))
    ]


def read_scalars(path: str) -> List[dict]:
    """The lines of a ``scalars.json``; a truncated last line (a killed
    run) is skipped."""
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
