# 100% of the COCO train2017 labels (Zoph et al. 2020 [V]): all of
# instances_train2017.json, as in coco_detection_640.py. Unlabeled data come
# from elsewhere (COCO unlabeled2017 or ImageNet, ../selftrain/).
_base_ = './coco_detection_640.py'
