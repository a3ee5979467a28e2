# Runtime of the EfficientNet-B7 arms trained from random init:
# effb7_runtime.py plus ScratchInitHook (MSRA init of the backbone convs,
# norm weight 1 / bias 0, a per-stage weight report; He et al. 2019), for a
# student on `detector.backbone` (inside SelfTrainingDetector).
# ScratchGuardHook is not used: it reads EfficientNet's frozen_stages=0
# (nothing frozen) as a frozen stage. The B7 model config freezes nothing,
# sets norm_eval=False and loads no weights.
_base_ = './effb7_runtime.py'

custom_hooks = [dict(type='ScratchInitHook')] + _base_.custom_hooks
student_custom_hooks = [
    dict(type='ScratchInitHook', modules=['detector.backbone'])
] + _base_.custom_hooks
