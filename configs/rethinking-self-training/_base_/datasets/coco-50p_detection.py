# 50% of the COCO train2017 labels (Zoph et al. 2020 train on 20%, 50% and
# 100% [V]), sampled without replacement, the same on every machine:
#   A=data/coco/annotations
#   python tools/make_subset.py $A/instances_train2017.json --fraction 0.5 \
#       --seed 1 --out $A/instances_train2017.1@50.json \
#       --rest-out $A/image_info_train2017.1@50-rest.json
# The rest (image_info_train2017.1@50-rest.json) can be the unlabeled set:
# tools/self_train.py ... --unlabeled $A/image_info_train2017.1@50-rest.json
_base_ = './coco_detection_640.py'

train_dataloader = dict(
    dataset=dict(ann_file='annotations/instances_train2017.1@50.json'))
# What a leaf's human dataset adds: CocoSubsetDataset refuses a file that
# does not hold exactly round(0.5 * 118287) images
# (rethink_mmdet.data.coco_subset).
label_share = dict(type='CocoSubsetDataset', label_fraction=0.5)
