# PASCAL VOC 2012 "train + aug" (10,582 images with human labels: train
# plus the SBD "aug" set, mmseg's pascal_voc12_aug.py; prepare it with
# mmseg's tools/dataset_converters/voc_aug.py) for the Zoph et al. 2020
# PASCAL grid: ./voc12_512x512.py with the aug set's human labels
# (SegmentationClassAug) as a second human dataset.
_base_ = './voc12_512x512.py'

voc_aug = dict(
    type='PascalVOCDataset',
    data_root='data/VOCdevkit/VOC2012',
    data_prefix=dict(
        img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
    ann_file='ImageSets/Segmentation/aug.txt')
human_datasets = [_base_.voc_train, voc_aug]
# A student draws 1 train : 7 aug images in the human half of each batch
# (MixedSourceSampler's shares are per batch): the sizes are 1,464 : 9,118
# (about 1 : 6.2, mmseg's voc_aug.py: trainaug 10,582 = train + aug), so
# train images are 12.5% of the student's human images instead of 13.8%
# [U: an approximation; a teacher samples the concatenation uniformly].
human_shares = [1, 7]
