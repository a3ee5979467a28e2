"""Resumable train loops: the batch sampler starts at a saved position with
exactly the batches the uninterrupted run yields next (every sampler kind,
every rank), and a real resumed training run, iteration- or epoch-based,
sees the same image ids and ends with the same weights as one never
stopped, without loading a trained batch again.

Ranks are simulated for the samplers by giving mmengine's samplers a rank
and world size (``get_dist_info``); the training runs are real
``tools/train.py`` processes on the tiny shapes configs.
"""
import itertools
import json
import os
import re
import signal

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.registry import init_default_scope
from torch.utils.data import BatchSampler

import rethink_mmdet  # noqa: F401  (registers the loops)
from mmdet.datasets.samplers import AspectRatioBatchSampler
from rethink_mmdet.data import ShapesDataset
from rethink_mmdet.engine.loops import POSITION_KEY
from rethink_mmdet.engine.preemption import PREEMPTED_EXIT_CODE
from rethink_mmdet.engine.sampler_state import (ResumableBatchSampler,
                                                SamplerPosition,
                                                wrap_batch_sampler)
from rethink_mmdet.self_training.mixed_batch_sampler import \
    MixedSourceBatchSampler
from rethink_mmdet.self_training.sampler import MixedSourceSampler
from rethink_mmdet.self_training.sources import MultiSourceDataset
from tests.conftest import RETINANET, python_tool, run_tool, short_run_options
from tests.engine.test_preemption import Process, checkpoints

SEED = 7


class ImageSizes:
    """A dataset of images of both orientations: all a batch sampler reads
    (``len`` and ``get_data_info``'s width and height)."""

    def __init__(self, num, seed=0):
        rng = np.random.default_rng(seed)
        self.hw = rng.integers(100, 300, size=(num, 2))

    def __len__(self):
        return len(self.hw)

    def get_data_info(self, idx):
        h, w = self.hw[idx]
        return dict(height=int(h), width=int(w))


def build(kind,
          dataset,
          rank,
          world_size,
          monkeypatch,
          batch_size=3,
          drop_last=False):
    """``(mmengine/mmdet batch sampler, the same wrapped for resuming)``,
    two independent copies, for ``rank`` of ``world_size``."""
    monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda:
                        (rank, world_size))
    sampler_type, grouping = kind.split('+')
    pair = []
    for _ in range(2):
        make = DefaultSampler if sampler_type == 'default' else InfiniteSampler
        sampler = make(dataset, shuffle=True, seed=SEED)
        if grouping == 'aspect':
            inner = AspectRatioBatchSampler(sampler, batch_size, drop_last)
        else:
            inner = BatchSampler(sampler, batch_size, drop_last)
        pair.append(inner)
    reference, inner = pair
    return reference, ResumableBatchSampler(
        inner.sampler, batch_size, batch_sampler=inner)


KINDS = [
    'default+plain', 'default+aspect', 'infinite+plain', 'infinite+aspect'
]


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('rank,world_size', [(0, 1), (0, 2), (1, 2)])
@pytest.mark.parametrize('drop_last', [False, True])
def test_start_at_any_position_continues_the_sequence(kind, rank, world_size,
                                                      drop_last, monkeypatch):
    dataset = ImageSizes(23)
    reference, _ = build(
        kind, dataset, rank, world_size, monkeypatch, drop_last=drop_last)
    infinite = kind.startswith('infinite')
    epochs = [0] if infinite else [0, 3]
    for epoch in epochs:
        reference.sampler.set_epoch(epoch)
        expected = list(itertools.islice(iter(reference), 40))
        assert len(expected) >= 2
        for batch in range(len(expected) + 1):
            _, resumable = build(
                kind,
                dataset,
                rank,
                world_size,
                monkeypatch,
                drop_last=drop_last)
            resumable.set_epoch(epoch)  # the run's set_epoch, then resume
            resumable.start_at(SamplerPosition(epoch, batch, SEED))
            got = list(
                itertools.islice(iter(resumable),
                                 len(expected) - batch))
            assert got == expected[batch:], (epoch, batch)
        # without a position: the wrapped sampler's own batches
        _, plain = build(
            kind, dataset, rank, world_size, monkeypatch, drop_last=drop_last)
        plain.set_epoch(epoch)
        assert list(itertools.islice(iter(plain), 40)) == expected


def test_start_at_restores_the_saved_seed(monkeypatch):
    dataset = ImageSizes(10)
    reference, _ = build('default+aspect', dataset, 0, 1, monkeypatch)
    expected = list(reference)
    _, resumable = build('default+aspect', dataset, 0, 1, monkeypatch)
    resumable.sampler.seed = SEED + 1  # a run started with another seed
    resumable.start_at(SamplerPosition(0, 1, SEED))
    assert list(resumable) == expected[1:]


def test_unknown_batch_sampler_replays_indices_only(monkeypatch):
    """A batch sampler without a known restore: its index batches are
    drawn and dropped (no data), with a warning."""

    class EveryOther(BatchSampler):

        def __iter__(self):
            return itertools.islice(super().__iter__(), 0, None, 2)

    monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda:
                        (0, 1))
    dataset = ImageSizes(30)
    expected = list(EveryOther(DefaultSampler(dataset, seed=SEED), 2, False))
    wrapped = ResumableBatchSampler(
        DefaultSampler(dataset, seed=SEED),
        2,
        batch_sampler=EveryOther(DefaultSampler(dataset, seed=SEED), 2, False))
    wrapped.start_at(SamplerPosition(0, 3, SEED))
    assert list(wrapped) == expected[3:]


def mixed_dataset(shapes_root):
    init_default_scope('mmdet')
    splits = [('train', 'human'), ('val', 'pseudo')]
    return MultiSourceDataset(
        sources=[name for _, name in splits],
        datasets=[
            dict(
                type='ShapesDataset',
                data_root=shapes_root,
                ann_file=f'annotations/instances_{split}.json',
                data_prefix=dict(img=f'{split}/'),
                pipeline=[]) for split, _ in splits
        ])


@pytest.mark.parametrize('epoch_source', [None, 'human'])
@pytest.mark.parametrize('rank', [0, 1])
def test_mixed_source_sampler_resumes_through_its_state_dict(
        shapes_root, epoch_source, rank):
    dataset = mixed_dataset(shapes_root)

    def make():
        sampler = MixedSourceSampler(
            dataset,
            epoch_source=epoch_source,
            seed=SEED,
            rank=rank,
            world_size=2)
        inner = MixedSourceBatchSampler(sampler, 4)
        return inner, ResumableBatchSampler(sampler, 4, batch_sampler=inner)

    reference, _ = make()
    reference.set_epoch(2)
    expected = list(itertools.islice(iter(reference), 12))
    for batch in range(len(expected)):
        _, resumable = make()
        resumable.start_at(SamplerPosition(2, batch, SEED))
        got = list(itertools.islice(iter(resumable), len(expected) - batch))
        assert got == expected[batch:], batch


def test_wrap_batch_sampler_keeps_the_config(shapes_root):
    cfg = dict(
        batch_size=2,
        drop_last=True,
        sampler=dict(type='DefaultSampler'),
        batch_sampler=dict(type='AspectRatioBatchSampler'))
    wrapped = wrap_batch_sampler(cfg)
    assert 'drop_last' not in wrapped and cfg['drop_last'] is True
    assert wrapped['batch_sampler'] == dict(
        type=ResumableBatchSampler,
        batch_sampler=dict(type='AspectRatioBatchSampler'),
        drop_last=True)
    assert wrap_batch_sampler(wrapped) == wrapped  # not wrapped twice
    dataset = ShapesDataset(
        data_root=shapes_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=[])
    built = ResumableBatchSampler(DefaultSampler(dataset), 5, drop_last=True)
    assert isinstance(built.batch_sampler, BatchSampler)
    assert len(built) == len(dataset) // 5 and built.drop_last


# -- real training runs -------------------------------------------------------

IDS_HOOK = '''
import json, os
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module(force=True)
class ImageIdLogHook(Hook):
    """Appends (iteration, epoch, image ids) of every trained batch."""

    def __init__(self, path):
        self.path = path

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ids = [s.img_id for s in data_batch['data_samples']]
        with open(self.path, 'a') as f:
            f.write(json.dumps([runner.iter, runner.epoch, ids]) + '\\n')
'''


def loop_config(tmp_path, loop, ids_path):
    """The shapes RetinaNet with our loop, deterministic, checkpoints by
    iteration, logging the image ids of every batch."""
    (tmp_path / 'ids_hook.py').write_text(IDS_HOOK)
    path = tmp_path / f'{loop}.py'
    if loop == 'iter':
        train_cfg = ("train_cfg = dict(_delete_=True, "
                     "type='ResumableIterBasedTrainLoop', max_iters=8, "
                     "val_interval=100)")
    else:  # an epoch-based LR step too
        train_cfg = ("train_cfg = dict(_delete_=True, "
                     "type='ResumableEpochBasedTrainLoop', max_epochs=3, "
                     "val_interval=100)\n"
                     "param_scheduler = [dict(type='MultiStepLR', "
                     "by_epoch=True, milestones=[2], gamma=0.5)]")
    path.write_text(f'''_base_ = {RETINANET!r}
custom_imports = dict(imports=['rethink_mmdet', 'ids_hook'],
                      allow_failed_imports=False)
resume = True
runner_type = 'mmdet.LongRunRunner'
{train_cfg}
custom_hooks = [dict(type='ImageIdLogHook', path={str(ids_path)!r})]
randomness = dict(seed=0, deterministic=True)
val_dataloader = None
val_cfg = None
val_evaluator = None
''')
    return str(path)


def options(shapes_root, ckpt_interval):
    return [
        o for o in short_run_options(shapes_root, 8, ckpt_interval)
        if not o.startswith(('val_', 'test_', 'train_cfg'))
    ]


def read_ids(path):
    return [
        tuple(json.loads(line)[:2]) + (json.loads(line)[2], )
        for line in open(path)
    ]


def assert_same_weights(a, b):
    a = torch.load(a, weights_only=True)['state_dict']
    b = torch.load(b, weights_only=True)['state_dict']
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, differ[:3]


@pytest.mark.parametrize('loop,sampler', [('iter', 'InfiniteSampler'),
                                          ('iter', 'DefaultSampler'),
                                          ('epoch', 'DefaultSampler')])
def test_resume_sees_the_same_batches_and_ends_equal(shapes_root, tmp_path,
                                                     loop, sampler):
    """A run resumed from the checkpoint of iteration 4 of an uninterrupted
    run (12 train images at batch 4: epoch / pass 1, batch 1 -- in the
    middle of an epoch for the epoch loop, of the second pass over the data
    for a finite sampler) trains on the same image ids per iteration and
    ends with bitwise equal weights, without fetching a batch twice."""
    env = {
        'PYTHONPATH':
        f'{tmp_path}{os.pathsep}'
        f'{os.environ.get("PYTHONPATH", "")}'
    }
    full_ids, part_ids = tmp_path / 'full.jsonl', tmp_path / 'part.jsonl'
    final = 'iter_8.pth' if loop == 'iter' else 'iter_9.pth'
    opts = [
        *options(shapes_root, 4), f'train_dataloader.sampler.type={sampler}',
        'default_hooks.checkpoint.max_keep_ckpts=-1'
    ]
    full = tmp_path / 'full'
    run_tool(
        python_tool('train.py', loop_config(tmp_path, loop, full_ids),
                    '--work-dir', full, '--cfg-options', *opts),
        env=env)
    ckpt = torch.load(full / 'iter_4.pth', weights_only=True)
    position = ckpt['message_hub']['runtime_info'][POSITION_KEY]
    expected = (1, 1) if sampler == 'DefaultSampler' else (0, 4)
    assert (position['epoch'], position['batch']) == expected
    assert position['iter'] == 4 and position['seed'] == 0

    part = tmp_path / 'part'
    part.mkdir()
    (part / 'iter_4.pth').write_bytes((full / 'iter_4.pth').read_bytes())
    (part / 'last_checkpoint').write_text(str(part / 'iter_4.pth'))
    out = run_tool(
        python_tool('train.py', loop_config(tmp_path, loop, part_ids),
                    '--work-dir', part, '--cfg-options', *opts),
        env=env)
    assert re.search(r'resumed epoch: \d+, iter: 4', out)
    assert 'Advance dataloader' not in out  # mmengine's replay
    assert 'without loading the trained batches again' in out
    assert read_ids(part_ids) == read_ids(full_ids)[4:]
    assert_same_weights(full / final, part / final)


def test_sigterm_mid_epoch_then_restart_equals_uninterrupted_run(
        shapes_root, tmp_path):
    """The epoch loop with LongRunRunner: SIGTERM in the middle
    of epoch 1 -> checkpoint at that iteration, exit 75; the same command
    again continues inside epoch 1 with the same image ids (not from its
    start, not at epoch 2) and ends with bitwise equal weights (an epoch
    LR step, random flips)."""
    env = {
        'PYTHONPATH':
        f'{tmp_path}{os.pathsep}'
        f'{os.environ.get("PYTHONPATH", "")}'
    }
    full_ids, part_ids = tmp_path / 'full.jsonl', tmp_path / 'part.jsonl'
    opts = [
        *options(shapes_root, 100),
        'train_dataloader.sampler.type=DefaultSampler'
    ]
    full = tmp_path / 'full'
    run_tool(
        python_tool('train.py', loop_config(tmp_path, 'epoch', full_ids),
                    '--work-dir', full, '--cfg-options', *opts),
        env=env)
    cfg = loop_config(tmp_path, 'epoch', part_ids)
    part = tmp_path / 'part'
    cmd = python_tool('train.py', cfg, '--work-dir', part, '--cfg-options',
                      *opts)
    run = Process(cmd, env=env)
    try:
        run.wait_for(r'Iter\(train\) \[\s*4/9\]')
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish() == PREEMPTED_EXIT_CODE, run.output[-6000:]
    finally:
        run.kill()
    stopped = sorted(checkpoints(part))
    assert len(stopped) == 1 and 4 <= stopped[0] < 6, stopped  # epoch 1
    out = run_tool(cmd, env=env)
    assert f'resumed epoch: 1, iter: {stopped[0]}' in out
    assert 'without loading the trained batches again' in out
    assert read_ids(part_ids) == read_ids(full_ids)
    assert_same_weights(full / 'iter_9.pth', part / 'iter_9.pth')
