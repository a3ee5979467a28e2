# Runtime of the PASCAL arms trained from random init (Table 11's "Rand
# Init"): ./seg_runtime.py plus He et al.'s ScratchGuardHook (refuses frozen
# stages, norm layers in eval mode and pre-trained weights; EfficientNet's
# frozen_stages=0 reads as nothing frozen) and ScratchInitHook (MSRA init of
# the backbone convs, norm weight 1 / bias 0), as the detection grid's
# effb7-scratch_runtime.py.
_base_ = './seg_runtime.py'

custom_hooks = [
    dict(type='mmdet.ScratchGuardHook'),
    dict(type='mmdet.ScratchInitHook')
] + _base_.custom_hooks
