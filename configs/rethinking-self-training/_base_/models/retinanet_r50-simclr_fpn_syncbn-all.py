# RetinaNet R50-FPN, SyncBN-all, backbone from SimCLR (self-supervised on
# ImageNet, the encoder before label fine-tuning): the SimCLR arm of Zoph et
# al. 2020, Table 4 [V]. The published checkpoint (google-research/simclr
# v1 ResNet50_1x, or its PyTorch port) is converted to mmdet's ResNet keys
#   python tools/model_converters/simclr_to_mmdet.py ResNet50_1x/model.ckpt \
#       checkpoints/simclr_r50_1x_mmdet.pth
# (docs/converters.md). SimCLR was trained on RGB images in [0, 1] without
# mean/std normalization, so the detector's data preprocessor feeds it that
# instead of mmdet's ImageNet mean/std (BGR).
_base_ = './retinanet_r50_fpn_syncbn-all.py'

model = dict(
    backbone=dict(
        # the scratch model's init_cfg is None: replaced, not merged
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            prefix='backbone.',  # the converter writes backbone.* keys
            checkpoint='checkpoints/simclr_r50_1x_mmdet.pth')),
    data_preprocessor=dict(
        mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True))
