"""MixedSourceSampler: exact per-batch source shares on every rank, epochs
over one named source, aspect-ratio grouping from a seeded generator, and a
saved position that resumes the same sequence.

The data are real: shapes images (human COCO labels and a pseudo-label store
over the unlabeled split, written with the store API) and, for the grouping
tests, crops of them in both orientations. Ranks are simulated with the
sampler's ``rank`` / ``world_size`` arguments, and checked for real with
``tools/dist_train.sh`` (2 gloo processes) on the mixed shapes config.
"""
import itertools
import json
import os
import os.path as osp
import socket
import sys
from types import SimpleNamespace

import mmcv
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmdet.datasets.samplers import AspectRatioBatchSampler
from rethink_mmdet.data import ShapesDataset, make_shapes
from rethink_mmdet.self_training.mixed_batch_sampler import \
    MixedSourceBatchSampler
from rethink_mmdet.self_training.sampler import (LANDSCAPE, PORTRAIT,
                                                 MixedSourceSampler,
                                                 image_orientations)
from rethink_mmdet.self_training.sources import (HUMAN, PSEUDO, SOURCE_KEY,
                                                 MultiSourceDataset)
from tests.conftest import REPO, RETINANET, run_tool
from tests.self_training.test_dataset import build_store

MIXED = osp.join(REPO, 'configs', 'shapes', 'mixed_human-pseudo_shapes.py')
NUM_HUMAN, NUM_PSEUDO = 12, 8
# A hook that appends the source and image of every sample of every batch it
# trains on to <out_dir>/rank<r>.jsonl (written into the test's temp dir and
# imported by the config, so the real 2-process run loads it too).
HOOK_SOURCE = '''
import json, os
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module(force=True)
class SourceLogHook(Hook):
    def __init__(self, out_dir):
        self.out_dir = out_dir

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        rows = [(s.metainfo['data_source'], s.metainfo['img_path'])
                for s in data_batch['data_samples']]
        path = os.path.join(self.out_dir, 'rank%d.jsonl' % get_rank())
        with open(path, 'a') as f:
            f.write(json.dumps(dict(iter=runner.iter, epoch=runner.epoch,
                                    samples=rows)) + '\\n')
'''


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def crop_split(root, split, out, landscape_every=2):
    """Crop a split's images to 256x160 (landscape) or 160x256 (portrait),
    alternately; returns COCO images (and annotations inside the crop)."""
    name = ('image_info_unlabeled.json'
            if split == 'unlabeled' else f'instances_{split}.json')
    with open(osp.join(root, 'annotations', name)) as f:
        coco = json.load(f)
    os.makedirs(osp.join(root, out), exist_ok=True)
    keep = {}
    for i, img in enumerate(coco['images']):
        pixels = mmcv.imread(osp.join(root, split, img['file_name']))
        wide = i % landscape_every == 0
        pixels = pixels[:160] if wide else pixels[:, :160]
        mmcv.imwrite(pixels, osp.join(root, out, img['file_name']))
        img['height'], img['width'] = pixels.shape[:2]
        keep[img['id']] = img
    anns = []
    for ann in coco.get('annotations', []):
        img = keep[ann['image_id']]
        x, y, w, h = ann['bbox']
        if x + w <= img['width'] and y + h <= img['height']:
            anns.append(ann)
    coco['annotations'] = anns
    with open(osp.join(root, 'annotations', f'{out}.json'), 'w') as f:
        json.dump(coco, f)
    return coco['images']


def make_mixed_data(root):
    """Square human/pseudo sets and cropped ones of both orientations."""
    make_shapes(
        root, num_train=NUM_HUMAN, num_val=2, num_unlabeled=NUM_PSEUDO, seed=0)
    with open(osp.join(root, 'annotations', 'image_info_unlabeled.json')) as f:
        unlabeled = json.load(f)['images']
    one_box = [[(0.9, i % 4, [8, 8, 100, 100])] for i in range(NUM_PSEUDO)]
    build_store(
        osp.join(root, 'pseudo_labels'), unlabeled, boxes=one_box, masks=False)
    crop_split(root, 'train', 'train_oriented', landscape_every=3)
    crops = crop_split(root, 'unlabeled', 'unlabeled_oriented')
    build_store(
        osp.join(root, 'pseudo_oriented'), crops, boxes=one_box, masks=False)
    return SimpleNamespace(root=root)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_mixed_data(str(tmp_path_factory.mktemp('mixed')))


def human(data, oriented=False, pipeline=()):
    split = 'train_oriented' if oriented else 'train'
    ann = (f'annotations/{split}.json'
           if oriented else 'annotations/instances_train.json')
    return dict(
        type='ShapesDataset',
        data_root=data.root,
        ann_file=ann,
        data_prefix=dict(img=f'{split}/'),
        pipeline=list(pipeline))


def pseudo(data, oriented=False, pipeline=(), **kwargs):
    return dict(
        type='PseudoLabelDataset',
        data_root=data.root,
        store='pseudo_oriented' if oriented else 'pseudo_labels',
        data_prefix=dict(
            img='unlabeled_oriented/' if oriented else 'unlabeled/'),
        pipeline=list(pipeline),
        **kwargs)


def mixed(data, oriented=False, extra=0):
    datasets = [human(data, oriented), pseudo(data, oriented)]
    sources = [HUMAN, PSEUDO]
    for k in range(extra):
        datasets.append(pseudo(data, oriented))
        sources.append(f'pseudo_{k}')
    return MultiSourceDataset(datasets=datasets, sources=sources)


@pytest.fixture(scope='module')
def square(data):
    return mixed(data)


@pytest.fixture(scope='module')
def oriented(data):
    return mixed(data, oriented=True)


def make(ds, batch_size=4, seed=0, **kwargs):
    sampler = MixedSourceSampler(ds, seed=seed, **kwargs)
    return MixedSourceBatchSampler(sampler, batch_size)


def take(batch_sampler, n=None):
    it = iter(batch_sampler)
    return list(it) if n is None else list(itertools.islice(it, n))


def source_counts(ds, batch):
    return [sum(ds.source_of(i) == name for i in batch) for name in ds.sources]


# ----------------------------------------------------------------------
# shares per batch and per rank
# ----------------------------------------------------------------------
@pytest.mark.parametrize('ratio,batch_size,world_size,counts', [
    (None, 4, 1, [2, 2]),
    ([1, 1], 4, 2, [2, 2]),
    ([1, 3], 8, 2, [2, 6]),
    ([2, 1], 6, 3, [4, 2]),
    ({
        PSEUDO: 1,
        HUMAN: 1
    }, 2, 2, [1, 1]),
])
@pytest.mark.parametrize('epoch_source', [HUMAN, None])
def test_every_batch_holds_exact_shares_on_every_rank(square, ratio,
                                                      batch_size, world_size,
                                                      counts, epoch_source):
    per_rank = []
    for rank in range(world_size):
        bs = make(
            square,
            batch_size,
            source_ratio=ratio,
            rank=rank,
            world_size=world_size,
            epoch_source=epoch_source)
        batches = take(bs, len(bs) + 3 if epoch_source is None else None)
        assert len(batches) == len(bs) + (3 if epoch_source is None else 0)
        for batch in batches:
            assert len(batch) == batch_size
            assert source_counts(square, batch) == counts
            # sources in order within the batch
            assert [square.source_of(i) for i in batch] == \
                [HUMAN] * counts[0] + [PSEUDO] * counts[1]
        per_rank.append(batches)
    assert len({len(b) for b in per_rank}) == 1  # lockstep across ranks
    if NUM_HUMAN % (counts[0] * world_size) or \
            NUM_PSEUDO % (counts[1] * world_size):
        return  # a step straddles two passes over a source: may repeat
    # the ranks' shares of one step never overlap
    for step in zip(*per_rank):
        flat = [i for batch in step for i in batch]
        assert len(flat) == len(set(flat))
    if epoch_source == HUMAN:  # the ranks together: each human image once
        seen = [i for b in per_rank for batch in b for i in batch[:counts[0]]]
        assert sorted(seen) == list(range(NUM_HUMAN))


def test_ranks_together_draw_each_pass_once(square):
    """2 ranks, 1:1 of 4: the first 3 steps of both ranks are one pass
    over the 12 human images and the first 2 one pass over the 8 pseudo."""
    world = [take(make(square, rank=r, world_size=2), 3) for r in range(2)]
    human_ids = [i for b in world for batch in b for i in batch[:2]]
    assert sorted(human_ids) == list(range(NUM_HUMAN))
    pseudo_ids = [i for b in world for batch in b[:2] for i in batch[2:]]
    assert sorted(pseudo_ids) == list(range(NUM_HUMAN, NUM_HUMAN + NUM_PSEUDO))


def test_three_sources(data):
    ds = mixed(data, extra=1)
    assert ds.sources == [HUMAN, PSEUDO, 'pseudo_0']
    for rank in range(2):
        bs = make(
            ds,
            8,
            source_ratio=[2, 1, 1],
            rank=rank,
            world_size=2,
            epoch_source=HUMAN)
        assert len(bs) == 2  # ceil(12 human / (4 per batch * 2 ranks))
        for batch in take(bs):
            assert source_counts(ds, batch) == [4, 2, 2]


# ----------------------------------------------------------------------
# epochs and the infinite mode
# ----------------------------------------------------------------------
def test_epoch_is_one_pass_over_the_epoch_source(square):
    bs = make(square, epoch_source=HUMAN)
    sampler = bs.sampler
    assert len(bs) == 6 and len(sampler) == 24
    epoch0 = take(bs)
    assert len(epoch0) == 6
    assert sorted(i for b in epoch0 for i in b[:2]) == list(range(NUM_HUMAN))
    assert take(bs) == epoch0  # no set_epoch: the same epoch again
    sampler.set_epoch(1)
    epoch1 = take(bs)
    assert epoch1 != epoch0  # reseeded
    assert sorted(i for b in epoch1 for i in b[:2]) == list(range(NUM_HUMAN))
    # the pseudo source continues across epochs: each 8 draws are one pass
    draws = [i for b in epoch0 + epoch1 for i in b[2:]]
    for k in range(0, 24, NUM_PSEUDO):
        assert sorted(draws[k:k + NUM_PSEUDO]) == list(
            range(NUM_HUMAN, NUM_HUMAN + NUM_PSEUDO))
    sampler.set_epoch(0)
    assert take(bs) == epoch0
    assert list(sampler) == [i for b in epoch0 for i in b]


def test_epoch_pads_to_whole_steps(square):
    """12 human images, 4 per batch on 2 ranks: 2 batches per rank; every
    human image at least once, the 4 padding slots repeat some."""
    seen = []
    for rank in range(2):
        bs = make(square, 8, rank=rank, world_size=2, epoch_source=HUMAN)
        assert len(bs) == 2
        seen += [i for b in take(bs) for i in b[:4]]
    assert len(seen) == 16 and set(seen) == set(range(NUM_HUMAN))


def test_infinite_never_ends(square):
    bs = make(square)
    assert len(bs) == 6  # nominal: one pass over the first source
    batches = take(bs, 50)
    human_ids = [i for b in batches for i in b[:2]]
    for k in range(0, 96, NUM_HUMAN):  # every 12 human draws are one pass
        assert sorted(human_ids[k:k + NUM_HUMAN]) == list(range(NUM_HUMAN))
    bs.sampler.set_epoch(3)  # no effect when infinite
    assert bs.sampler.offset == 50


# ----------------------------------------------------------------------
# aspect-ratio grouping
# ----------------------------------------------------------------------
def orientation_of(ds, i):
    info = ds.get_data_info(i)
    return PORTRAIT if info['width'] < info['height'] else LANDSCAPE


@pytest.mark.parametrize('epoch_source,world_size', [(HUMAN, 1), (None, 2)])
def test_grouping_makes_single_orientation_batches(oriented, epoch_source,
                                                   world_size):
    orient = image_orientations(oriented.datasets[0])
    assert set(orient.tolist()) == {PORTRAIT, LANDSCAPE}
    for rank in range(world_size):
        bs = make(
            oriented,
            rank=rank,
            world_size=world_size,
            epoch_source=epoch_source)
        batches = take(bs, 20 if epoch_source is None else None)
        kinds = [{orientation_of(oriented, i) for i in b} for b in batches]
        assert all(len(k) == 1 for k in kinds)
        assert {k.pop() for k in kinds} == {PORTRAIT, LANDSCAPE}
        for b in batches:
            assert source_counts(oriented, b) == [2, 2]
        if epoch_source is not None:
            # 4 landscape + 8 portrait human images: 2 + 4 batches
            assert len(batches) == len(bs) == 6
            assert sorted(i for b in batches
                          for i in b[:2]) == list(range(NUM_HUMAN))


def test_grouping_is_reproducible_from_the_seed(oriented):
    a = take(make(oriented, seed=7, epoch_source=HUMAN))
    assert take(make(oriented, seed=7, epoch_source=HUMAN)) == a
    assert take(make(oriented, seed=8, epoch_source=HUMAN)) != a
    # without grouping the orientations mix
    flat = take(
        make(
            oriented, seed=7, epoch_source=HUMAN, aspect_ratio_grouping=False))
    assert any(
        len({orientation_of(oriented, i)
             for i in b}) == 2 for b in flat)


def test_a_source_missing_an_orientation_fills_from_its_other_images(data):
    """Square pseudo images only (landscape by mmdet's rule): portrait
    batches take their pseudo share from them; the human share stays one
    orientation and the counts stay exact."""
    ds = MultiSourceDataset(
        sources=[HUMAN, PSEUDO], datasets=[human(data, True),
                                           pseudo(data)])
    batches = take(make(ds, epoch_source=HUMAN))
    assert {orientation_of(ds, b[0]) for b in batches} == {PORTRAIT, LANDSCAPE}
    for b in batches:
        assert source_counts(ds, b) == [2, 2]
        assert len({orientation_of(ds, i) for i in b[:2]}) == 1
        assert {orientation_of(ds, i) for i in b[2:]} == {LANDSCAPE}


class SizedShapes(ShapesDataset):
    """A dataset that lists its image sizes in one call."""

    def image_hw(self):
        return np.array([[1, 2], [3, 2], [5, 5]])


def test_image_hw_of_a_dataset_is_used_when_present(data):
    ds = SizedShapes(**{k: v for k, v in human(data).items() if k != 'type'})
    assert image_orientations(ds).tolist() == [LANDSCAPE, PORTRAIT, LANDSCAPE]


# ----------------------------------------------------------------------
# position: state_dict / load_state_dict
# ----------------------------------------------------------------------
def run_epochs(bs, epochs, start=0):
    out = []
    for e in range(start, epochs):
        bs.sampler.set_epoch(e)
        out += take(bs)
    return out


@pytest.mark.parametrize('grouping', [True, False])
@pytest.mark.parametrize('rank', [0, 1])
def test_resume_mid_epoch_continues_the_same_sequence(oriented, grouping,
                                                      rank):
    args = dict(
        rank=rank,
        world_size=2,
        epoch_source=HUMAN,
        aspect_ratio_grouping=grouping)
    full = run_epochs(make(oriented, **args), 3)
    bs = make(oriented, **args)
    bs.sampler.set_epoch(0)
    done = take(bs)
    bs.sampler.set_epoch(1)
    done += take(bs, 2)
    state = bs.state_dict()
    assert (state['epoch'], state['offset']) == (1, 2)
    # a new run with another seed and the other rank's saved state
    resumed = make(oriented, seed=99, **args)
    resumed.load_state_dict(dict(state, rank=1 - rank))
    resumed.set_epoch(1)  # mmengine's DistSamplerSeedHook: same epoch
    rest = take(resumed)
    assert done + rest + run_epochs(resumed, 3, start=2) == full


def test_resume_infinite_at_a_large_offset(oriented):
    full = take(make(oriented), 40)
    bs = make(oriented)
    take(bs, 33)
    state = bs.state_dict()
    resumed = make(oriented, seed=5)
    resumed.load_state_dict(state)
    assert take(resumed, 7) == full[33:]
    # a position far ahead is reached without replay
    jump = make(oriented)
    jump.load_state_dict(dict(state, offset=100_000))
    assert len(take(jump, 2)) == 2 and jump.sampler.offset == 100_002


def test_resume_refuses_another_setup(square):
    state = make(square, epoch_source=HUMAN).state_dict()
    with pytest.raises(ValueError, match='world_size=1 vs 2'):
        make(
            square, epoch_source=HUMAN, rank=0,
            world_size=2).load_state_dict(state)
    with pytest.raises(ValueError, match='batch_size=4 vs 8'):
        make(square, 8, epoch_source=HUMAN).load_state_dict(state)
    with pytest.raises(ValueError, match='source_ratio'):
        make(
            square, epoch_source=HUMAN,
            source_ratio=[1, 3]).load_state_dict(state)


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_errors_name_the_problem_and_the_fix(square, data):
    with pytest.raises(ValueError, match="source 'pseudo' the share 0"):
        MixedSourceSampler(square, source_ratio=[1, 0], seed=0)
    with pytest.raises(ValueError, match='whole numbers'):
        MixedSourceSampler(square, source_ratio=[0.5, 0.5], seed=0)
    with pytest.raises(ValueError, match='2 shares for the 3 sources'):
        MixedSourceSampler(mixed(data, extra=1), source_ratio=[1, 1], seed=0)
    with pytest.raises(ValueError, match='multiple of 4'):
        make(square, 6, source_ratio=[1, 3])
    with pytest.raises(ValueError, match='exactly one of the sources'):
        MixedSourceSampler(square, epoch_source='imagenet', seed=0)
    with pytest.raises(TypeError, match='MultiSourceDataset'):
        MixedSourceSampler(square.datasets[0], seed=0)
    with pytest.raises(TypeError, match='MixedSourceSampler'):
        MixedSourceBatchSampler(square, 4)
    # mmdet's AspectRatioBatchSampler (the shapes base config's) over it
    unbound = MixedSourceSampler(square, seed=0)
    with pytest.raises(RuntimeError, match='MixedSourceBatchSampler'):
        next(iter(AspectRatioBatchSampler(unbound, 4)))
    with pytest.raises(RuntimeError, match='MixedSourceBatchSampler'):
        len(unbound)


# ----------------------------------------------------------------------
# the config form, mmengine's loops, 2 real processes
# ----------------------------------------------------------------------
def mixed_cfg(data, scale=(128, 128)):
    """The mixed fragment pointed at the test data (smaller images)."""
    cfg = Config.fromfile(MIXED)
    for d in cfg.train_dataloader.dataset.datasets:
        d.data_root = data.root
        for t in d.pipeline:
            if t.type == 'Resize':
                t.scale = scale
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    return cfg


def test_config_fragment_builds_through_mmengine(data):
    cfg = mixed_cfg(data)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert isinstance(loader.batch_sampler, MixedSourceBatchSampler)
    assert len(loader) == NUM_HUMAN // 2  # nominal: one pass over human
    batch = next(iter(loader))
    assert [s.metainfo[SOURCE_KEY]
            for s in batch['data_samples']] == [HUMAN, HUMAN, PSEUDO, PSEUDO]
    assert all(s.gt_instances.bboxes.shape[0] > 0
               for s in batch['data_samples'])


def student_cfg(data, work_dir, **train_cfg):
    """Tiny RetinaNet with the mixed train data and a source-logging hook;
    no validation."""
    hook_dir = osp.join(work_dir, 'hook')
    os.makedirs(hook_dir, exist_ok=True)
    with open(osp.join(hook_dir, 'source_log_hook.py'), 'w') as f:
        f.write(HOOK_SOURCE)
    cfg = Config.fromfile(RETINANET)
    cfg.train_dataloader = mixed_cfg(data).train_dataloader
    cfg.train_cfg = train_cfg
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.custom_imports = dict(
        imports=['rethink_mmdet', 'source_log_hook'],
        allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='SourceLogHook', out_dir=work_dir)]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.visualizer.name = work_dir  # one instance per run in this process
    cfg.work_dir = work_dir
    return cfg, hook_dir


def read_log(work_dir, rank=0):
    with open(osp.join(work_dir, f'rank{rank}.jsonl')) as f:
        return [json.loads(line) for line in f]


def train_in_process(cfg, hook_dir):
    sys.path.insert(0, hook_dir)
    try:
        __import__('source_log_hook')
        Runner.from_cfg(cfg).train()
    finally:
        sys.path.remove(hook_dir)


def human_names(data):
    return sorted(f'{i:06d}.png' for i in range(NUM_HUMAN))


def test_epoch_and_iteration_loops(data, tmp_path):
    """EpochBasedTrainLoop: 2 epochs of 6 iterations, each one pass over the
    human images; IterBasedTrainLoop: past the nominal length without a
    restart. Every trained batch is 2 human + 2 pseudo."""
    work = str(tmp_path / 'epoch')
    cfg, hook_dir = student_cfg(
        data, work, type='EpochBasedTrainLoop', max_epochs=2, val_interval=10)
    cfg.train_dataloader.sampler.epoch_source = HUMAN
    train_in_process(cfg, hook_dir)
    rows = read_log(work)
    assert [r['epoch'] for r in rows] == [0] * 6 + [1] * 6
    for epoch in (0, 1):
        names = []
        for r in rows[epoch * 6:(epoch + 1) * 6]:
            assert [s for s, _ in r['samples']] == [HUMAN] * 2 + [PSEUDO] * 2
            names += [osp.basename(p) for _, p in r['samples'][:2]]
        assert sorted(names) == human_names(data)
    assert rows[:6] != rows[6:]

    work = str(tmp_path / 'iter')
    cfg, hook_dir = student_cfg(
        data, work, type='IterBasedTrainLoop', max_iters=8, val_interval=100)
    train_in_process(cfg, hook_dir)
    rows = read_log(work)
    assert [r['iter'] for r in rows] == list(range(8))
    for r in rows:
        assert [s for s, _ in r['samples']] == [HUMAN] * 2 + [PSEUDO] * 2


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_real_processes_draw_disjoint_shares(data, tmp_path):
    """tools/dist_train.sh with 2 gloo processes: each rank's batches are
    2 human + 2 pseudo; at every step the ranks' images differ, and the
    first 3 steps of both ranks are one pass over the 12 human images."""
    work = str(tmp_path / 'dist')
    cfg, hook_dir = student_cfg(
        data, work, type='IterBasedTrainLoop', max_iters=3, val_interval=100)
    config = osp.join(work, 'mixed_student.py')
    cfg.dump(config)
    out = run_tool([
        'bash', f'{REPO}/tools/dist_train.sh', config, '2', '--work-dir', work
    ],
                   env={
                       'PORT': str(free_port()),
                       'PYTHONPATH': os.pathsep.join([hook_dir, REPO])
                   })
    assert 'Distributed training: True' in out
    ranks = [read_log(work, r) for r in range(2)]
    humans, pseudos = [], []
    for step in zip(*ranks):
        assert step[0]['iter'] == step[1]['iter']
        for r in step:
            assert [s for s, _ in r['samples']] == [HUMAN] * 2 + [PSEUDO] * 2
        paths = [p for r in step for _, p in r['samples']]
        assert len(set(paths)) == len(paths)  # disjoint across ranks
        humans += [osp.basename(p) for r in step for _, p in r['samples'][:2]]
        pseudos += [p for r in step for _, p in r['samples'][2:]]
    assert sorted(humans) == human_names(data)
    assert len(set(pseudos[:NUM_PSEUDO])) == NUM_PSEUDO


def test_benchmark_runs_small():
    out = run_tool([
        sys.executable,
        osp.join(REPO, 'tools', 'benchmark', 'mixed_sampler.py'), '--human',
        '200', '--pseudo', '400', '--batches', '20'
    ])
    assert 'MixedSourceSampler 1:1, grouping=True' in out
    assert 'load_state_dict(offset=10000000) + first batch' in out
