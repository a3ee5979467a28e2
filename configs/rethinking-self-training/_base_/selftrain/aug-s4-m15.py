# Aug-S4 at RandAugment magnitude 15 (configs/_base_/augment/aug-s4-m15.py;
# Zoph et al. 2020, Table 12 only), as aug-s4.py here: its pipelines with
# packing.py's swap, as `selftrain_pipelines.<variant>`.
_base_ = ['../../../_base_/augment/aug-s4-m15.py', './packing.py']

selftrain_pipelines = {
    name: [dict(t, **_base_.selftrain_swap.get(t['type'], {})) for t in p]
    for name, p in _base_.aug_pipelines.items()
}
