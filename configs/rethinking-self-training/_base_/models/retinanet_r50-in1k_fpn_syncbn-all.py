# RetinaNet R50-FPN, SyncBN-all, backbone from ImageNet (torchvision's
# ResNet-50): the "ImageNet Init" arm of Zoph et al. 2020 (theirs: an
# EfficientNet-B7 of 84.5% top-1 [V]). Same layout as the random-init model,
# nothing frozen, the BN statistics trained (SyncBN).
_base_ = './retinanet_r50_fpn_syncbn-all.py'

model = dict(
    backbone=dict(
        # the scratch model's init_cfg is None: replaced, not merged
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='torchvision://resnet50')))
