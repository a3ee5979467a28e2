# RetinaNet EfficientNet-B7 FPN, SyncBN-all, backbone from ImageNet: the
# "ImageNet Init" arm of Zoph et al. 2020 (their B7: 84.5% top-1 [V]). The
# weights are mmpretrain's port of the TF AutoAugment EfficientNet-B7
# (loadable by mmdet's EfficientNet with prefix='backbone'); that it is the
# paper's very checkpoint is not verified [U].
_base_ = './retinanet_effb7_fpn_syncbn-all.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'efficientnet/efficientnet-b7_3rdparty_8xb32-aa_in1k_20220119-'
            'bf03951c.pth')))
