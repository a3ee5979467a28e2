# Runtime of the EfficientNet-B7 arms trained from random init:
# effb7_runtime.py plus ScratchGuardHook (refuses frozen stages/parameters,
# norm layers in eval mode, pre-trained weights and load_from; it reads
# EfficientNet's frozen_stages=0 as nothing frozen) and ScratchInitHook
# (MSRA init of the backbone convs, norm weight 1 / bias 0, a per-stage
# weight report; He et al. 2019). ScratchInitHook finds a student's inner
# detector by itself; `detector.backbone` (relative to the student) is
# accepted too and kept here as the grid test expects.
_base_ = './effb7_runtime.py'

custom_hooks = [dict(type='ScratchGuardHook'),
                dict(type='ScratchInitHook')] + _base_.custom_hooks
student_custom_hooks = [
    dict(type='ScratchGuardHook'),
    dict(type='ScratchInitHook', modules=['detector.backbone'])
] + _base_.custom_hooks
