# PASCAL VOC 2012 "train" (1,464 images with human labels, the
# SegmentationClass PNGs) for the Zoph et al. 2020 PASCAL grid: mmseg's own
# dataset fragment with the test images resized to fit 512x512 (the release
# evaluates at its 512x512 output size, `resize_eval: True` [V, tensorflow/
# tpu projects/self_training/configs/pascal_seg_*.yaml]) on val (1,449
# images, `eval_samples: 1449` [V]), and 8 images per GPU (32 GPUs x 8 =
# 256, the paper's batch [V]; students set their own).
#
# The human labels are a list, `human_datasets`, without pipelines: each
# leaf sets its Aug-S pipeline on every one; a teacher concatenates them
# (ConcatDataset), a student makes each one 'human' source with its share
# `human_shares` of the human half of every batch (voc12aug_512x512.py
# lists two). The PASCAL aug set as an UNLABELED
# source (Tables 8 and 14) is in ../selftrain/student.py.
_base_ = 'mmseg::_base_/datasets/pascal_voc12.py'

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
voc_train = dict(
    type='PascalVOCDataset',
    data_root='data/VOCdevkit/VOC2012',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/train.txt')
human_datasets = [voc_train]
# A student's share of its human half per human dataset (a student batch
# holds each dataset as its own 'human' source of MultiSourceDataset, which
# takes datasets, not a ConcatDataset).
human_shares = [1]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
