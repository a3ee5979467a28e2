# Tiny Mask R-CNN trained from random init with GroupNorm everywhere
# (He et al. 2019, Sec. 3-4: GN in backbone, FPN, 4conv1fc box head and mask
# head; RPN head without norm; nothing frozen; no pre-trained weights) on the
# built-in shapes dataset. mmdet's own model classes at small width so that it
# trains on 2 CPU cores: ResNet-18 with base width 16, FPN with 32 channels.
#
# The model is the plain mmdet MaskRCNN converted to GN-all and written out:
# ../_base_/models/*_r18-tiny_fpn_gn-all.py, rendered by
# tools/misc/render_scratch_model.py from the plain tiny model (8 groups:
# every width here divides by 8; He et al. use 32 at full width; the box
# head is Shared4Conv1FCBBoxHead).
_base_ = [
    '../_base_/models/mask-rcnn_r18-tiny_fpn_gn-all.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
