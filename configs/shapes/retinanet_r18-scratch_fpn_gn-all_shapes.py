# Tiny RetinaNet trained from random init with GroupNorm in backbone, FPN and
# head (He et al. 2019 recipe applied to the one-stage detector that Zoph et
# al. 2020 use) on the built-in shapes dataset; mmdet's own classes at small
# width so that it trains on 2 CPU cores.
#
# The model is the plain mmdet RetinaNet converted to GN-all and written out:
# ../_base_/models/*_r18-tiny_fpn_gn-all.py, rendered by
# tools/misc/render_scratch_model.py from the plain tiny model (8 groups:
# every width here divides by 8; He et al. use 32 at full width).
_base_ = [
    '../_base_/models/retinanet_r18-tiny_fpn_gn-all.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_iter.py',
    '../_base_/shapes_runtime.py',
]
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

optim_wrapper = dict(optimizer=dict(lr=0.01))
