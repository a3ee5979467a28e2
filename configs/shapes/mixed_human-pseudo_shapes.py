# Data settings of a self-training student on the built-in shapes dataset
# (a fragment: no model, schedule or runtime). Zoph et al. 2020, Sec. 3: the
# student trains on human and pseudo labels jointly, each batch half human
# (the labeled train split), half pseudo (the teacher's labels of the
# unlabeled split, from `tools/pseudo_label.py ... --out <data_root>/
# pseudo_labels`). Every sample carries `metainfo['data_source']` ('human' or
# 'pseudo', set by MultiSourceDataset; kept by PackStudentInputs) and every
# batch of 4 holds exactly 2 of each, on every rank (MixedSourceSampler).
#
# Inherit it beside a model, a schedule and a runtime (e.g. the `_base_`
# pieces of `retinanet_r18-scratch_fpn_gn-all_shapes.py`), not beside a
# full shapes config: both would define `train_dataloader`, and mmengine
# refuses a key defined by two bases. Epoch-based training: set
# `train_dataloader.sampler.epoch_source='human'` (an epoch = one pass over
# the human images).
_base_ = '../_base_/datasets/shapes_detection.py'

pseudo_label_store = 'pseudo_labels'  # relative to data_root
pseudo_score_thr = 0.5  # Zoph et al. 2020 [U]

human_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale={{_base_.image_scale}}, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackStudentInputs')
]
# the pseudo images' own pipeline (Aug-S1..S4 go here); same as human here
pseudo_pipeline = human_pipeline
human_dataset = dict(
    type={{_base_.dataset_type}},
    data_root={{_base_.data_root}},
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='train/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=4),
    pipeline=human_pipeline,
    backend_args={{_base_.backend_args}})
pseudo_dataset = dict(
    type='PseudoLabelDataset',
    store=pseudo_label_store,
    score_thr=pseudo_score_thr,
    data_root={{_base_.data_root}},
    data_prefix=dict(img='unlabeled/'),
    pipeline=pseudo_pipeline,
    backend_args={{_base_.backend_args}})

train_dataloader = dict(
    batch_size=4,
    sampler=dict(
        _delete_=True,
        type='MixedSourceSampler',
        source_ratio=[1, 1],
        epoch_source=None,
        aspect_ratio_grouping=True),
    batch_sampler=dict(_delete_=True, type='MixedSourceBatchSampler'),
    dataset=dict(
        _delete_=True,
        type='MultiSourceDataset',
        sources=['human', 'pseudo'],
        datasets=[human_dataset, pseudo_dataset]))
