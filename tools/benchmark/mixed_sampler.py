"""Cost of the mixed human/pseudo sampler (``MixedSourceSampler``), side by
side with mmdet's ``DefaultSampler`` + ``AspectRatioBatchSampler`` in one
run: start-up (image orientations for aspect-ratio grouping), index time per
batch, and time to the first batch after jumping to a saved position.

Data are generated (seed 0; generation is not timed): a pseudo-label store
of ``--pseudo`` images (``PseudoLabelDataset``) and a COCO JSON of
``--human`` images (``CocoDataset``), no image files (samplers read only
data infos). Only index generation is timed, not the data pipeline::

    python tools/benchmark/mixed_sampler.py --human 20000 --pseudo 100000
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from pseudo_label_store import CLASSES, generate_store, write_coco  # noqa


def build(tmp, num_human, num_pseudo):
    from mmdet.datasets import CocoDataset
    from rethink_mmdet.self_training import (MultiSourceDataset,
                                             PseudoLabelDataset)
    generate_store(osp.join(tmp, 'human'), num_human, 5)
    write_coco(osp.join(tmp, 'human'), osp.join(tmp, 'human.json'))
    generate_store(osp.join(tmp, 'pseudo'), num_pseudo, 5)
    human = CocoDataset(
        ann_file=osp.join(tmp, 'human.json'),
        data_prefix=dict(img=''),
        pipeline=[],
        metainfo=dict(classes=tuple(CLASSES)))
    pseudo = PseudoLabelDataset(
        store=osp.join(tmp, 'pseudo'), check_files=False, pipeline=[])
    return human, MultiSourceDataset(
        datasets=[human, pseudo], sources=['human', 'pseudo'])


def per_batch_us(batch_sampler, num_batches):
    num_batches = min(num_batches, len(batch_sampler) - 1)  # one epoch
    it = iter(batch_sampler)
    next(it)  # the first batch builds the epoch / block tables
    t0 = time.perf_counter()
    for _ in range(num_batches):
        next(it)
    return (time.perf_counter() - t0) / num_batches * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--human', type=int, default=20000)
    parser.add_argument('--pseudo', type=int, default=100000)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--batches', type=int, default=500)
    args = parser.parse_args()

    from mmengine.dataset import DefaultSampler
    from mmengine.registry import init_default_scope

    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from rethink_mmdet.self_training import (MixedSourceBatchSampler,
                                             MixedSourceSampler)
    from rethink_mmdet.self_training.sampler import image_orientations
    init_default_scope('mmdet')
    with tempfile.TemporaryDirectory() as tmp:
        human, mixed = build(tmp, args.human, args.pseudo)
        rows = []
        for ds, name in zip(mixed.datasets, mixed.sources):
            t0 = time.perf_counter()
            image_orientations(ds)
            took = time.perf_counter() - t0
            rows.append((f'orientations of {name} ({type(ds).__name__}, '
                         f'{len(ds)} images)', f'{took:.2f} s',
                         f'{took / len(ds) * 1e6:.1f} us/image'))
        ref = AspectRatioBatchSampler(
            DefaultSampler(human, shuffle=True, seed=0), args.batch_size)
        rows.append(('DefaultSampler + AspectRatioBatchSampler (human)',
                     f'{per_batch_us(ref, args.batches):.0f} us/batch', ''))
        for grouping in (True, False):
            bs = MixedSourceBatchSampler(
                MixedSourceSampler(
                    mixed,
                    seed=0,
                    epoch_source='human',
                    aspect_ratio_grouping=grouping), args.batch_size)
            rows.append((f'MixedSourceSampler 1:1, grouping={grouping}',
                         f'{per_batch_us(bs, args.batches):.0f} us/batch', ''))
        sampler = MixedSourceSampler(mixed, seed=0)
        bs = MixedSourceBatchSampler(sampler, args.batch_size)
        state = sampler.state_dict()
        for offset in (10, 1000, 100_000, 10_000_000):
            t0 = time.perf_counter()
            sampler.load_state_dict(dict(state, offset=offset))
            next(iter(bs))
            rows.append((f'load_state_dict(offset={offset}) + first batch',
                         f'{(time.perf_counter() - t0) * 1e3:.1f} ms', ''))
    print(f'batch_size {args.batch_size}, {args.human} human + '
          f'{args.pseudo} pseudo images, {args.batches} batches timed\n')
    print('| measurement | time | per item |\n|---|---|---|')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')


if __name__ == '__main__':
    main()
