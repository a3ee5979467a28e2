# He et al. 2019, Sec. 5 (ImageNet pre-training vs random init; Fig. 1 and 2,
# Table 1 "pre-trained" rows): the pre-trained arm on the built-in shapes
# data. The tiny RetinaNet of retinanet_r18-scratch_fpn_gn-all_shapes.py -
# the same GN-all layout (backbone, FPN, head; 8 groups), nothing frozen,
# the same schedule - with its backbone initialized from the GN classifier
# pre-trained on the shapes classification images (the package's ImageNet
# stand-in, cls_r18-tiny_gn_shapes-cls.py) and fine-tuned with GN, as He et
# al.'s pre-trained baselines are. Only the backbone init differs from the
# scratch arm; the FPN and head start from random init in both.
#
#   python tools/make_shapes_classification.py --out data/shapes_cls
#   python tools/train.py configs/shapes/cls_r18-tiny_gn_shapes-cls.py
#   python tools/train.py \
#       configs/shapes/retinanet_r18-pretrained_fpn_gn-all_shapes.py
#
# The backbone checkpoint is one key,
#   model.backbone.init_cfg.checkpoint
# (default: the last checkpoint of the pre-training config's default work
# dir); e.g. --cfg-options model.backbone.init_cfg.checkpoint=PATH. The
# rendered scratch model has no Pretrained init (init_cfg=None); this config
# replaces it, exactly as the He et al. ImageNet bases
# (configs/_base_/he2019/*-imagenet_fpn_gn-all.py) do.
_base_ = [
    './retinanet_r18-scratch_fpn_gn-all_shapes.py',
    '../_base_/shapes_pretrained_file.py'
]

model = dict(
    backbone=dict(
        # the scratch model's init_cfg is None: replaced, not merged
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            prefix='backbone.',
            checkpoint='work_dirs/cls_r18-tiny_gn_shapes-cls/iter_1000.pth')))
