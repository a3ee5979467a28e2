# Mask R-CNN R50-FPN GN-all, fine-tuned from ImageNet, on 10k COCO train images
# (He et al. 2019, Sec. 5.2, less data): pre-trained 26.0 box AP at 60k
# iterations. Make the subset (exactly 10000 images, without replacement, seed
# 0):
#   python tools/make_subset.py \
#       data/coco/annotations/instances_train2017.json \
#       --num-images 10000 --seed 0 \
#       --out data/coco/annotations/instances_train2017_10k.json
_base_ = [
    '../_base_/he2019/mask-rcnn_r50-imagenet_fpn_gn-all.py',
    '../_base_/he2019/ms-train-pipelines.py',
    '../_base_/he_runtime.py',
    '../_base_/schedules/he_small-data_60k.py',
]
train_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_train2017_10k.json',
        pipeline={{_base_.ms_512_800_instance_train_pipeline}}))
