"""ImagesSeenHook (He et al. 2019, Fig. 2): images, instances and pixels seen
equal the exact sums over the images the sampler served -- in one process,
summed over a 2-process CPU run (``tools/dist_train.sh``, gloo), and across
a resume.

The served images are recorded by a small test hook (written below, imported
by ``custom_imports``) that writes each rank's ``img_id``s and ``img_shape``s
per iteration. The expected counts are computed independently from the
annotation JSON: instances are the non-crowd annotations of each served
image, pixels 200*200 per image (256x256 images resized to (200, 200) with
keep_ratio; the detector pads them to 224x224, which must not be counted).
A third of the annotations are marked ``iscrowd`` (one image has only
crowd annotations) so that counting ignored instances would fail.
"""
import json
import re
import shutil
import socket
import textwrap
from collections import Counter

import pytest
import torch
from mmengine.structures import InstanceData

import rethink_mmdet  # noqa: F401  (allow-lists checkpoint globals)
from mmdet.structures import DetDataSample
from rethink_mmdet.engine.images_seen import (CHECKPOINT_KEY, COUNT_NAMES,
                                              EXACT_THROUGH_ITER, IMAGES_SEEN,
                                              INSTANCES_SEEN, PIXELS_SEEN,
                                              count_data_batch)
from tests.conftest import REPO, RETINANET, python_tool, run_tool

RESIZED = (200, 200)  # (h, w) of every training image as fed

RECORDER = textwrap.dedent('''
    """Test instrumentation: which images each rank was served; optionally
    two extra checkpoints at iteration ``save_at``, one saved between two
    summing points of ImagesSeenHook, one after ``synchronize_counts``."""
    import json
    import os.path as osp

    from mmengine.dist import get_rank
    from mmengine.hooks import Hook

    from mmdet.registry import HOOKS
    from rethink_mmdet.engine.images_seen import synchronize_counts


    @HOOKS.register_module()
    class ServedImagesRecorder(Hook):

        def __init__(self, save_at=None):
            self.save_at = save_at

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            samples = data_batch['data_samples']
            record = dict(iter=runner.iter + 1,
                          img_ids=[s.img_id for s in samples],
                          img_shapes=[list(s.img_shape) for s in samples])
            path = osp.join(runner.work_dir, f'served_rank{get_rank()}.jsonl')
            with open(path, 'a') as f:
                f.write(json.dumps(record) + '\\n')
            if runner.iter + 1 == self.save_at:  # rank 0 saves
                runner.save_checkpoint(runner.work_dir, 'unsynced.pth')
                synchronize_counts(runner)  # all ranks
                runner.save_checkpoint(runner.work_dir, 'synced.pth')
''')

CONFIG = textwrap.dedent(f'''
    _base_ = {RETINANET!r}
    custom_imports = dict(
        imports=['rethink_mmdet', 'rethink_mmdet.engine.images_seen',
                 'served_recorder'],
        allow_failed_imports=False)
    custom_hooks = [dict(type='ImagesSeenHook'),
                    dict(type='ServedImagesRecorder', save_at=1)]
    # DefaultSampler (the shapes configs use InfiniteSampler): its epoch
    # ends are logging points of the hook, exercised below.
    train_dataloader = dict(
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale={RESIZED[::-1]!r}, keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]))
''')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def crowd_shapes(shapes_root, tmp_path_factory):
    """A copy of the shapes dataset with every third annotation, and all of
    image 1's, marked ``iscrowd``; returns ``(root, {img_id: instances})``
    counting the annotations that are not crowd."""
    root = tmp_path_factory.mktemp('crowd_shapes') / 'shapes'
    shutil.copytree(shapes_root, root)
    ann_file = root / 'annotations' / 'instances_train.json'
    coco = json.loads(ann_file.read_text())
    for i, ann in enumerate(coco['annotations']):
        if i % 3 == 0 or ann['image_id'] == 1:
            ann['iscrowd'] = 1
    ann_file.write_text(json.dumps(coco))
    instances = {img['id']: 0 for img in coco['images']}
    for ann in coco['annotations']:
        _, _, w, h = ann['bbox']
        if not ann['iscrowd'] and w >= 1 and h >= 1 and ann['area'] > 0:
            instances[ann['image_id']] += 1
    assert instances[1] == 0 and 0 < sum(instances.values()) < len(
        coco['annotations'])
    return str(root) + '/', instances


@pytest.fixture(scope='module')
def test_config(tmp_path_factory):
    """The user config (inherits the RetinaNet shapes config and adds the
    hook) and the directory of the recorder module."""
    folder = tmp_path_factory.mktemp('images_seen_cfg')
    (folder / 'served_recorder.py').write_text(RECORDER)
    (folder / 'retinanet_images-seen_shapes.py').write_text(CONFIG)
    return str(folder / 'retinanet_images-seen_shapes.py'), str(folder)


def options(root, max_iters, ckpt_interval, log_interval=1):
    val_ann = root + 'annotations/instances_val.json'
    opts = {
        'train_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
        'val_evaluator.ann_file': val_ann,
        'test_evaluator.ann_file': val_ann,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_begin': 1000,  # no evaluation: not what is tested
        'default_hooks.checkpoint.interval': ckpt_interval,
        'default_hooks.logger.interval': log_interval,
        'randomness.seed': 0,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
    }
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def train(test_config, work_dir, *args, dist=False):
    config, module_dir = test_config
    env = {'PYTHONPATH': f'{module_dir}:{REPO}'}
    if dist:
        env['PORT'] = str(free_port())
        cmd = ['bash', f'{REPO}/tools/dist_train.sh', config, '2']
    else:
        cmd = python_tool('train.py', config)
    return run_tool(
        cmd + ['--work-dir', str(work_dir), *map(str, args)], env=env)


def served(work_dir, rank=0):
    """``{iter: [(img_id, img_shape), ...]}`` served to ``rank``."""
    path = work_dir / f'served_rank{rank}.jsonl'
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return {
        r['iter']: list(zip(r['img_ids'], map(tuple, r['img_shapes'])))
        for r in records
    }


def expected_cumulative(served_per_rank, instances):
    """``{iter: {name: count}}``: the counts through each iteration, from
    the served image ids and the annotation JSON."""
    iters = sorted(set().union(*served_per_rank))
    total = Counter()
    out = {}
    for it in iters:
        for per_iter in served_per_rank:
            for img_id, shape in per_iter.get(it, []):
                assert shape == RESIZED, shape
                total[IMAGES_SEEN] += 1
                total[INSTANCES_SEEN] += instances[img_id]
                total[PIXELS_SEEN] += RESIZED[0] * RESIZED[1]
        out[it] = {name: total[name] for name in COUNT_NAMES}
    return out


def logged(work_dir):
    """``{iter: {name: value}}`` from the json scalars log of ``work_dir``."""
    (path, ) = work_dir.glob('*/vis_data/scalars.json')
    out = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if IMAGES_SEEN in row:
            out[row['iter']] = {name: row[name] for name in COUNT_NAMES}
    return out


def printed(output):
    """``[(iter, images, instances, pixels)]`` from the text log."""
    return [
        tuple(map(int, m)) for m in re.findall(
            r'Iter\(train\) \[\s*(\d+)/\d+\].*images_seen: (\d+)\s+'
            r'instances_seen: (\d+)\s+pixels_seen: (\d+)', output)
    ]


def stored(ckpt):
    return torch.load(ckpt, weights_only=True)[CHECKPOINT_KEY]


@pytest.fixture(scope='module')
def single_run(test_config, crowd_shapes, tmp_path_factory):
    """6 iterations in one process, checkpoints at 3 and 6; every scalar is
    window-averaged (``mean_pattern='.*'``) except, through the hook, the
    counts."""
    root, _ = crowd_shapes
    work_dir = tmp_path_factory.mktemp('images_seen_single')
    out = train(test_config, work_dir, *options(root, 6, 3),
                'log_processor.mean_pattern=.*')
    return work_dir, out


def test_count_data_batch_definitions():
    samples = []
    for (h, w), num_gt, num_ignored in (((200, 150), 3, 2), ((120, 90), 0, 1)):
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(h, w),
                pad_shape=(224, 160),
                batch_input_shape=(224, 160)))
        sample.gt_instances = InstanceData(bboxes=torch.zeros(num_gt, 4))
        sample.ignored_instances = InstanceData(
            bboxes=torch.zeros(num_ignored, 4))
        samples.append(sample)
    batch = dict(inputs=[torch.zeros(3, 224, 160)] * 2, data_samples=samples)
    assert count_data_batch(batch) == (2, 3, 200 * 150 + 120 * 90)
    with pytest.raises(TypeError, match='data_samples'):
        count_data_batch(dict(inputs=[], data_samples=dict(sup=samples)))


def test_single_process_counts_equal_served_images(single_run, crowd_shapes):
    work_dir, out = single_run
    _, instances = crowd_shapes
    expected = expected_cumulative([served(work_dir)], instances)
    assert sorted(expected) == [1, 2, 3, 4, 5, 6]
    # Two epochs of the 12 images, the all-crowd image 1 included.
    assert expected[6][IMAGES_SEEN] == 24
    assert {i
            for per_iter in served(work_dir).values()
            for i, _ in per_iter} == set(instances)
    # Logged every iteration as the current cumulative value (not a window
    # mean, although mean_pattern matches every key) ...
    assert logged(work_dir) == expected
    assert printed(out) == [(it, *(c[n] for n in COUNT_NAMES))
                            for it, c in expected.items()]
    # ... and stored in the checkpoints.
    assert stored(work_dir / 'iter_3.pth') == expected[3]
    assert stored(work_dir / 'iter_6.pth') == expected[6]
    assert 'ImagesSeenHook: seen in training (all ranks) images_seen=24' in out
    # Saved outside the hook's summing points: exact in one process.
    assert stored(work_dir / 'unsynced.pth') == expected[1]
    assert stored(work_dir / 'synced.pth') == expected[1]
    assert 'saved between two summing points' not in out


def test_exact_totals_before_each_validation_and_at_the_end(
        test_config, crowd_shapes, tmp_path):
    """Logged every 4 iterations, evaluated every 3, 6 in all: the
    evaluations at 3 and 6 and the end follow a scalars line with the exact
    counts of their iteration, not those of the LoggerHook's line before
    (iteration 0 / 4). InfiniteSampler: no epoch ends, which are logging
    points."""
    root, instances = crowd_shapes
    train(test_config, tmp_path, *options(root, 6, 6, log_interval=4),
          'train_cfg.val_begin=1', 'train_cfg.val_interval=3',
          'train_dataloader.sampler.type=InfiniteSampler')
    expected = expected_cumulative([served(tmp_path)], instances)
    assert logged(tmp_path) == {i: expected[i] for i in (3, 4, 6)}
    (path, ) = tmp_path.glob('*/vis_data/scalars.json')
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    evals = [i for i, r in enumerate(rows) if 'iter' not in r]
    assert [rows[i - 1]['iter'] for i in evals] == [3, 6]
    assert rows[-1] == dict(iter=6, step=6, **expected[6])


def test_resume_continues_counts(single_run, test_config, crowd_shapes,
                                 tmp_path):
    first_dir, _ = single_run
    root, instances = crowd_shapes
    out = train(test_config, tmp_path, '--resume', first_dir / 'iter_3.pth',
                *options(root, 6, 3))
    assert 'resumed epoch: 0, iter: 3' in out
    first, resumed = served(first_dir), served(tmp_path)
    assert sorted(resumed) == [4, 5, 6]
    expected = expected_cumulative([{
        it: first[it]
        for it in (1, 2, 3)
    }, resumed], instances)
    assert logged(tmp_path) == {it: expected[it] for it in (4, 5, 6)}
    assert stored(tmp_path / 'iter_6.pth') == expected[6]
    # The resumed run saw the same images as the uninterrupted one.
    assert stored(tmp_path / 'iter_6.pth') == stored(first_dir / 'iter_6.pth')


@pytest.fixture(scope='module')
def dist_run(single_run, test_config, crowd_shapes, tmp_path_factory):
    """2 CPU processes (torchrun + gloo), fine-tuned from a checkpoint with
    ``load_from`` (counting restarts at 0), 6 iterations, logged every 3,
    checkpoints saved (by rank 0 alone) at 4 and 6."""
    first_dir, _ = single_run
    root, _ = crowd_shapes
    work_dir = tmp_path_factory.mktemp('images_seen_dist')
    out = train(
        test_config,
        work_dir,
        *options(root, 6, 4, log_interval=3),
        f'load_from={first_dir / "iter_6.pth"}',
        dist=True)
    return work_dir, out


def test_two_process_counts_are_summed_over_ranks(dist_run, crowd_shapes):
    """Summed where they are read: logged at 2, 3 and 6; stored at 4 (a
    checkpoint iteration that is no logging iteration) and 6; stored global
    after ``synchronize_counts``, and marked when saved without it."""
    work_dir, out = dist_run
    _, instances = crowd_shapes
    assert 'Distributed training: True' in out
    assert 'counting starts at 0' in out
    ranks = [served(work_dir, rank) for rank in (0, 1)]
    assert all(sorted(r) == [1, 2, 3, 4, 5, 6] for r in ranks)
    expected = expected_cumulative(ranks, instances)
    alone = [expected_cumulative([r], instances)[6] for r in ranks]
    assert all(0 < a[IMAGES_SEEN] < expected[6][IMAGES_SEEN] for a in alone)
    # LoggerHook logs at iters 3 and 6 (interval) and 2 (end of each rank's
    # 2-batch epoch: 6 images per rank in batches of 4 and 2).
    assert logged(work_dir) == {it: expected[it] for it in (2, 3, 6)}
    assert printed(out) == [(it, *(expected[it][n] for n in COUNT_NAMES))
                            for it in (2, 3, 6)]
    assert stored(work_dir / 'iter_4.pth') == expected[4]
    assert stored(work_dir / 'iter_6.pth') == expected[6]
    images = expected[6][IMAGES_SEEN]
    assert f'seen in training (all ranks) images_seen={images},' in out
    # Saved by rank 0 alone at iter 1, between two summing points: the
    # counts of the last one (iter 0), marked; after synchronize_counts on
    # all ranks: global.
    assert stored(work_dir / 'unsynced.pth') == dict(
        dict.fromkeys(COUNT_NAMES, 0), **{EXACT_THROUGH_ITER: 0})
    assert 'saved between two summing points' in out
    assert stored(work_dir / 'synced.pth') == expected[1]


def test_two_process_resume_restores_counts(dist_run, test_config,
                                            crowd_shapes, tmp_path):
    """Resumed at 4 on 2 processes: the counts continue from the global
    record, logged at 6 and stored at 6 as in the uninterrupted run."""
    first_dir, _ = dist_run
    root, instances = crowd_shapes
    out = train(
        test_config,
        tmp_path,
        '--resume',
        first_dir / 'iter_4.pth',
        *options(root, 6, 4, log_interval=3),
        dist=True)
    assert 'resumed epoch: 0, iter: 4' in out
    first = [served(first_dir, rank) for rank in (0, 1)]
    resumed = [served(tmp_path, rank) for rank in (0, 1)]
    assert all(sorted(r) == [5, 6] for r in resumed)
    expected = expected_cumulative([{
        it: f[it]
        for it in (1, 2, 3, 4)
    } for f in first] + resumed, instances)
    assert logged(tmp_path) == {6: expected[6]}
    assert stored(tmp_path / 'iter_6.pth') == expected[6]
    assert stored(tmp_path / 'iter_6.pth') == stored(first_dir / 'iter_6.pth')
