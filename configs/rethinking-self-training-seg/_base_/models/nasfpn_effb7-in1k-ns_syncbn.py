# The PASCAL segmentor of Zoph et al. 2020 (./nasfpn_effb7_syncbn.py) with
# its backbone from ImageNet with Noisy Student: the "ImageNet++ Init" rows
# (86.9% top-1 [V]) and the B7 rows of Table 6. The published TF checkpoint
# (noisy_student_efficientnet-b7) converted to mmdet's EfficientNet keys, as
# for the detection grid's ImageNet++ Init:
#   python tools/model_converters/efficientnet_tf_to_mmdet.py \
#       noisy_student_efficientnet-b7/model.ckpt \
#       checkpoints/efficientnet-b7_noisy-student_mmdet.pth
# (docs/converters.md; mmpretrain's port of the same weights loads too).
_base_ = './nasfpn_effb7_syncbn.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone',
            checkpoint='checkpoints/efficientnet-b7_noisy-student_mmdet.pth')))
