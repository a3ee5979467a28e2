# Mask R-CNN R50-FPN GN-all, random init, on 35k COCO train images
# (He et al. 2019, Sec. 5.2, less data): both inits 36.3 box AP at 6x.
# Make the subset (exactly 35000 images, without replacement, seed 0):
#   python tools/make_subset.py \
#       data/coco/annotations/instances_train2017.json \
#       --num-images 35000 --seed 0 \
#       --out data/coco/annotations/instances_train2017_35k.json
_base_ = [
    '../_base_/he2019/mask-rcnn_r50_fpn_gn-all.py',
    '../_base_/he2019/ms-train-pipelines.py',
    '../_base_/he-scratch_runtime.py',
    '../_base_/schedules/he_small-data_6x.py',
]
train_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_train2017_35k.json',
        pipeline={{_base_.ms_512_800_instance_train_pipeline}}))
