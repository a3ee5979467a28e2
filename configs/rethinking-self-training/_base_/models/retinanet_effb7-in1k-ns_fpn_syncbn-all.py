# RetinaNet EfficientNet-B7 FPN, SyncBN-all, backbone from ImageNet with
# Noisy Student: the "ImageNet++ Init" arm of Zoph et al. 2020 (86.9% top-1
# [V]). The published TF checkpoint (noisy_student_efficientnet-b7) is
# converted to mmdet's EfficientNet keys by
#   python tools/model_converters/efficientnet_tf_to_mmdet.py \
#       noisy_student_efficientnet-b7/model.ckpt \
#       checkpoints/efficientnet-b7_noisy-student_mmdet.pth
# (see docs/converters.md, which also names mmpretrain's port of the same
# weights).
_base_ = './retinanet_effb7_fpn_syncbn-all.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone',
            checkpoint='checkpoints/efficientnet-b7_noisy-student_mmdet.pth')))
