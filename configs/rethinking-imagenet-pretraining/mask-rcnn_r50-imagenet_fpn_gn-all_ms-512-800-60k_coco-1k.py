# Mask R-CNN R50-FPN GN-all, fine-tuned from ImageNet, on 1k COCO train images
# (He et al. 2019, Sec. 5.2, the breakdown regime): pre-trained 9.9 box AP.
# Our reference notes give no schedule for 1k images: the 10k recipe is
# reused (assumption). Make the subset (exactly 1000 images, seed 0):
#   python tools/make_subset.py \
#       data/coco/annotations/instances_train2017.json \
#       --num-images 1000 --seed 0 \
#       --out data/coco/annotations/instances_train2017_1k.json
_base_ = './mask-rcnn_r50-imagenet_fpn_gn-all_ms-512-800-60k_coco-10k.py'
train_dataloader = dict(
    dataset=dict(ann_file='annotations/instances_train2017_1k.json'))
