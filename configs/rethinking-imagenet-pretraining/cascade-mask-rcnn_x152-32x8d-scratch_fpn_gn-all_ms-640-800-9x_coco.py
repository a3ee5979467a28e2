# He et al. 2019's large system trained from random init (Sec. 5.1): ResNeXt-
# 152 32x8d, GN-all, Cascade R-CNN, train-time scale augmentation [640, 800].
# Paper: X152 GN + train-aug 46.4 box AP; + Cascade 48.6; + test-time
# augmentation 50.9 box / 43.2 mask AP (test-time augmentation is not part of
# this config). The schedule length of that model is not given in our
# reference notes: 9x is an assumption (the longest schedule of the paper).
# Config only: not run by us.
_base_ = [
    '../_base_/he2019/cascade-mask-rcnn_r50_fpn_gn-all.py',
    '../_base_/he2019/ms-train-pipelines.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_9x.py',
]
model = dict(backbone=dict(type='ResNeXt', depth=152, groups=32, base_width=8))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.ms_640_800_instance_train_pipeline}}))
