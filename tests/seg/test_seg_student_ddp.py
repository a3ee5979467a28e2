"""The segmentation student under mmengine's DDP on 2 gloo processes
(Zoph et al. 2020, App. B): a rank whose pseudo maps are all ignored runs
the same forwards as the other, enters its pseudo loss with zero weight,
and the averages are the all-reduced means over the ranks with kept pixels,
the same on both ranks."""
import copy
import json

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.dataset import pseudo_collate
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from rethink_mmdet.seg.student import SEG_STUDENT_META_KEYS
from rethink_mmdet.self_training.sources import HUMAN, PSEUDO
from tests.self_training.test_student import spawn
from .student_data import (IGNORE, build_pair, make_seg_data, seg_model_cfg,
                           source_dataset_cfg)


def _worker(rank, world_size, init_file, out_dir, batches):
    init_default_scope('mmseg')
    torch_dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=world_size)
    _, model = build_pair(seg_model_cfg(), loss_norm=dict(decay=0.5))
    ddp = MMDistributedDataParallel(
        module=model, broadcast_buffers=False, find_unused_parameters=False)
    optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.01))
    record = []
    for batch in batches[rank]:
        logs = ddp.train_step(pseudo_collate(batch), optim)
        record.append({k: float(v) for k, v in logs.items()})
    record.append(
        float(sum(p.detach().double().sum() for p in model.parameters())))
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(record, f)
    torch_dist.destroy_process_group()


def test_ddp_all_ignored_pseudo_part_on_one_rank(tmp_path):
    root = make_seg_data(str(tmp_path / 'shapes'))
    dataset = DATASETS.build(source_dataset_cfg(root, SEG_STUDENT_META_KEYS))
    by_source = {HUMAN: [], PSEUDO: []}
    for i in range(len(dataset)):
        by_source[dataset.source_of(i)].append(dataset[i])
    items = by_source[HUMAN][:2] + by_source[PSEUDO][:2]
    ignored = copy.deepcopy(items)
    for item in ignored[2:]:
        item['data_samples'].gt_sem_seg.data[...] = IGNORE
    other = by_source[HUMAN][2:4] + by_source[PSEUDO][2:4]
    spawn(_worker,
          (2, str(tmp_path / 'init'), str(tmp_path), [[ignored, items],
                                                      [other, other]]))
    r0, r1 = (
        json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1))
    (a1, a2), (b1, b2) = r0[:2], r1[:2]
    # step 1: Lbar_h = mean over ranks; Lbar_p = rank 1's (rank 0: all
    # ignored, its L_p left out of the average and weighted 0)
    for rec in (a1, b1):
        assert rec['loss_human_avg'] == pytest.approx(
            (a1['loss_human'] + b1['loss_human']) / 2, rel=1e-6)
        assert rec['loss_pseudo_avg'] == pytest.approx(
            b1['loss_pseudo'], rel=1e-6)
    assert a1['pseudo_weight'] == 0. and a1['pseudo_kept_fraction'] == 0.
    assert b1['pseudo_weight'] == pytest.approx(
        0.5 * b1['loss_human_avg'] / b1['loss_pseudo_avg'], rel=1e-6)
    # step 2 (decay 0.5): both ranks update both averages
    for key in ('human', 'pseudo'):
        want = 0.5 * a1[f'loss_{key}_avg'] + 0.25 * (
            a2[f'loss_{key}'] + b2[f'loss_{key}'])
        assert a2[f'loss_{key}_avg'] == pytest.approx(want, rel=1e-6)
        assert b2[f'loss_{key}_avg'] == a2[f'loss_{key}_avg']
    assert a2['pseudo_weight'] == b2['pseudo_weight'] > 0
    assert r0[2] == r1[2]  # DDP kept the replicas equal
