# He et al. 2019 fine-tuned VOC baseline: faster-rcnn_r50_fpn_gn-all_voc0712.py
# with the backbone initialized as in faster-rcnn_r50-imagenet_fpn_gn-all.py
# (Detectron's ImageNet GN ResNet-50, caffe-style input normalisation).
_base_ = './faster-rcnn_r50_fpn_gn-all_voc0712.py'
model = dict(
    backbone=dict(
        # the scratch model's init_cfg is None: replaced, not merged
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='open-mmlab://detectron/resnet50_gn')),
    data_preprocessor=dict(
        mean=[103.530, 116.280, 123.675],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False))
