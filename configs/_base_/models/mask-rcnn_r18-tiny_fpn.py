# mmdet's Mask R-CNN at the tiny width of the CPU configs in configs/shapes/:
# mmdet's own ResNet-18 at base width 16 (stages of 16, 32, 64, 128
# channels), FPN, RPN and RoI heads at 32 channels (box head fc 128), 4
# classes, no pre-trained weights. The plain model: the source of
# mask-rcnn_r18-tiny_fpn_gn-all.py (tools/misc/render_scratch_model.py), which
# puts GroupNorm into backbone, FPN, box head (turned into the 4conv1fc
# head) and mask head (He et al. 2019, Sec. 3-4).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(depth=18, base_channels=16, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=128, num_classes=4),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32, num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
