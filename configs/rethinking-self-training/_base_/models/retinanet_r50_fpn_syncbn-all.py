# RetinaNet R50-FPN (the detector of Zoph et al. 2020, Sec. 4, there with
# EfficientNet-B7), random init, SyncBN in the backbone, the FPN and the head
# (Zoph et al. train with SyncBN [V]; nothing frozen, no pre-trained
# weights): mmdet's own RetinaNet converted to SyncBN-all as He et al. 2019
# do, the rendered ../../../_base_/models/retinanet_r50_fpn_syncbn-all.py.
# The runtimes list SyncBNGuardHook (no single-process SyncBN training).
_base_ = '../../../_base_/models/retinanet_r50_fpn_syncbn-all.py'
