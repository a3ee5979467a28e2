# 100% of the COCO train2017 labels (Zoph et al. 2020 [V]): all of
# instances_train2017.json, as in coco_detection_640.py. Unlabeled data come
# from elsewhere (COCO unlabeled2017 or ImageNet, ../selftrain/).
_base_ = './coco_detection_640.py'

# What a leaf's human dataset adds: CocoSubsetDataset refuses a file that
# does not hold all 118,287 images (e.g. a subset under the full file's
# name; rethink_mmdet.data.coco_subset).
label_share = dict(type='CocoSubsetDataset', label_fraction=1.0)
