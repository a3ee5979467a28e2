# Aug-S1 (configs/_base_/augment/aug-s1.py, Zoph et al. 2020) for the
# self-training grid: its pipelines with packing.py's swap, as
# `selftrain_pipelines.boxes` / `.masks` (640x640) and `.shapes_boxes` /
# `.shapes_masks` (256x256).
_base_ = ['../../../_base_/augment/aug-s1.py', './packing.py']

selftrain_pipelines = {
    name: [dict(t, **_base_.selftrain_swap.get(t['type'], {})) for t in p]
    for name, p in _base_.aug_pipelines.items()
}
