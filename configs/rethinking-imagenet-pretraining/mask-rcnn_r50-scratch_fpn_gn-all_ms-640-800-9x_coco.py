# Mask R-CNN R50-FPN, GN-all, from random init, 9x = 810k iterations (LR x0.1
# at 750k and 790k) with train-time scale augmentation: shorter side sampled
# from [640, 800] (He et al. 2019, Sec. 4; Detectron2's scratch 9x: 43.7 box /
# 39.6 mask AP at batch 64).
_base_ = [
    '../_base_/he2019/mask-rcnn_r50_fpn_gn-all.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_9x.py',
]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in range(640, 801, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# The dataloader must see the new pipeline too (mmdet#10891).
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
