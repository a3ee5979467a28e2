# RetinaNet R50-FPN (the detector of Zoph et al. 2020, Sec. 4, there with
# EfficientNet-B7), random init, SyncBN in the backbone, the FPN and the head
# (Zoph et al. train with SyncBN [V]; nothing frozen, no pre-trained weights:
# scratch_syncbn-all.py). mmdet's own RetinaNet.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py', './scratch_syncbn-all.py'
]

model = dict(_base_.scratch_syncbn_all, detector=_base_.model)
