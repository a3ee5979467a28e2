# The 9x scale-augmented recipe with SyncBN-all (Detectron2's scratch SyncBN
# 9x: 43.6 box / 39.3 mask AP). Needs more than one process.
_base_ = [
    '../_base_/he2019/mask-rcnn_r50_fpn_syncbn-all.py',
    '../_base_/he2019/ms-train-pipelines.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_9x.py',
]
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.ms_640_800_instance_train_pipeline}}))
