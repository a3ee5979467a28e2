# RetinaNet R101-FPN, random init, SyncBN in the backbone, the FPN and the
# head: the ResNet-101 model of Zoph et al. 2020, App. E / Table 12 (that
# its arms start from random init is our reading [U]). The R50 model with
# depth 101.
_base_ = './retinanet_r50_fpn_syncbn-all.py'

model = dict(backbone=dict(depth=101))
