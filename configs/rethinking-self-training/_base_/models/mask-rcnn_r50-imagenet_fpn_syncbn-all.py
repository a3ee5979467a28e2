# Mask R-CNN R50-FPN, SyncBN-all, backbone from ImageNet (torchvision's
# ResNet-50), fine-tuned with nothing frozen: the "ImageNet Init" arm.
_base_ = './mask-rcnn_r50_fpn_syncbn-all.py'

model = dict(
    backbone_init_cfg=dict(
        type='Pretrained', checkpoint='torchvision://resnet50'))
