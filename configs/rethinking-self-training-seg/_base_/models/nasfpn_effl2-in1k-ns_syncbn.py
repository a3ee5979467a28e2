# The PASCAL segmentor of Zoph et al. 2020 with an EfficientNet-L2 backbone
# from Noisy Student: the L2 rows of Table 6 (their best model, LR 0.2, 20k
# iterations [V]).
#
# mmdet's EfficientNet has NO L2 arch (b0-b8 and the EdgeTPU archs only):
# the backbone here is rethink_mmdet's EfficientNetWithL2, mmdet's
# EfficientNet plus arch 'l2' = width 4.3, depth 5.3, resolution 800 (the
# TF efficientnet_builder's params [V, its code]); stages 3-5 end with 176,
# 480 and 1376 channels (mmdet's rounding of 40/112/320 x 4.3).
#
# Which checkpoints load: tools/model_converters/efficientnet_tf_to_mmdet.py
# builds mmdet's own EfficientNet for its target keys, so it REFUSES the TF
# noisy_student_efficientnet-l2 checkpoint ("mmdet's EfficientNet has no
# arch 'l2'"); mmpretrain's EfficientNet has an 'l2' arch and the same key
# layout, so its converted Noisy Student L2 file should load with
# prefix='backbone' [U: not loaded here]. The path below is where that
# file is expected; nothing ships it.
_base_ = './nasfpn_effb7_syncbn.py'

model = dict(
    backbone=dict(
        type='EfficientNetWithL2',
        arch='l2',
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone',
            checkpoint='checkpoints/efficientnet-l2_noisy-student_mmdet.pth')),
    neck=dict(in_channels=[176, 480, 1376]))
