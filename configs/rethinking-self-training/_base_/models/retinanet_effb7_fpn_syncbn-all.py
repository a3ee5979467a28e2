# RetinaNet with an EfficientNet-B7 backbone and FPN, SyncBN everywhere: the
# model of Zoph et al. 2020 [V] (their Rand Init arm), from mmdet's own
# `EfficientNet(arch='b7')` (no mmpretrain needed) as in mmdet's
# configs/efficientnet/retinanet_effb3_fpn_8xb4-crop896-1x_coco.py: features
# of stages 3-5 (80, 224, 640 channels for B7), FPN from level 0 with P6/P7
# on the input, the RetinaSepBNHead (convs shared across levels, norm per
# level). Random init (EfficientNet's own Kaiming/constant init); nothing
# frozen (EfficientNet's frozen_stages=0 freezes nothing).
# SyncBN-all is written here by hand, so that the ImageNet-init and the
# random-init arms share this one model file, and so that the backbone keeps
# the TF BN eps/momentum (tools/misc/render_scratch_model.py --norm SyncBN
# writes plain SyncBN; it also sets EfficientNet's "nothing frozen",
# frozen_stages=0). The runtimes bring SyncBNGuardHook, and for random init
# ScratchGuardHook.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

# (not `sync_bn`: a top-level `sync_bn` is an option of mmengine's Runner)
neck_head_norm = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientNet',
        arch='b7',
        drop_path_rate=0.2,  # mmdet's EfficientNet RetinaNet [U]
        out_indices=(3, 4, 5),
        frozen_stages=0,
        # TF BN settings (mmdet's EfficientNet configs) [U]
        norm_cfg=dict(
            type='SyncBN', requires_grad=True, eps=1e-3, momentum=0.01),
        norm_eval=False),
    neck=dict(
        in_channels=[80, 224, 640],
        start_level=0,
        relu_before_extra_convs=True,
        no_norm_on_lateral=True,
        norm_cfg=neck_head_norm),
    bbox_head=dict(type='RetinaSepBNHead', num_ins=5, norm_cfg=neck_head_norm))
