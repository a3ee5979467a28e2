# The PASCAL segmentor of Zoph et al. 2020 (./nasfpn_effb7_syncbn.py) with
# its backbone from ImageNet: the "ImageNet Init" rows (their B7: 84.5%
# top-1 [V]). The weights are those of the detection grid's ImageNet Init
# (../../../rethinking-self-training/_base_/models/
# retinanet_effb7-in1k_fpn_syncbn-all.py): mmpretrain's port of the TF
# AutoAugment EfficientNet-B7, loadable by mmdet's EfficientNet with
# prefix='backbone'; that it is the paper's very checkpoint is [U].
_base_ = './nasfpn_effb7_syncbn.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'efficientnet/efficientnet-b7_3rdparty_8xb32-aa_in1k_20220119-'
            'bf03951c.pth')))
