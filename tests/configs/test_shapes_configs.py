"""Each configs/shapes config trains for a few iterations from random init
and is evaluated with pycocotools, through tools/train.py."""
import math
import re

import pytest

from tests.conftest import (SHAPES_CONFIGS, python_tool, run_tool,
                            short_run_options)


@pytest.mark.parametrize(
    'config', SHAPES_CONFIGS, ids=lambda p: p.split('/')[-1])
def test_shapes_config_trains_and_evaluates(config, shapes_root, tmp_path):
    opts = short_run_options(shapes_root, max_iters=3, ckpt_interval=3)
    if 'retinanet' in config:
        # After 3 iterations every focal-loss score is still near the prior
        # (0.01): keep them all so that there is something to evaluate.
        opts.append('model.test_cfg.score_thr=0.0')
    out = run_tool(
        python_tool('train.py', config, '--work-dir', tmp_path,
                    '--cfg-options', *opts))
    losses = [float(v) for v in re.findall(r' loss: ([0-9.naif]+)', out)]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert re.search(r'coco/bbox_mAP: [0-9.]+', out)
    if 'mask-rcnn' in config:
        assert re.search(r'coco/segm_mAP: [0-9.]+', out)
    assert (tmp_path / 'iter_3.pth').is_file()
