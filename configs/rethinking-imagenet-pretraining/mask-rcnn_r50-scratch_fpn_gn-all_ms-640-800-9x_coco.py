# Mask R-CNN R50-FPN, GN-all, from random init, 9x = 810k iterations (LR x0.1
# at 750k and 790k) with train-time scale augmentation: shorter side sampled
# from [640, 800] (He et al. 2019, Sec. 5.1; Detectron2's scratch 9x: 43.7
# box / 39.6 mask AP at batch 64).
_base_ = [
    '../_base_/he2019/mask-rcnn_r50_fpn_gn-all.py',
    '../_base_/he2019/ms-train-pipelines.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_9x.py',
]
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.ms_640_800_instance_train_pipeline}}))
