# Runtime of the EfficientNet-B7 arms trained from random init:
# effb7_runtime.py plus ScratchGuardHook (refuses frozen stages/parameters,
# norm layers in eval mode, pre-trained weights and a load_from that its own
# mark does not prove to be a random-init checkpoint of this model; it reads
# EfficientNet's frozen_stages=0 as nothing frozen) and ScratchInitHook
# (MSRA init of the backbone convs, norm weight 1 / bias 0, a per-stage
# weight report; He et al. 2019; skipped when a checkpoint is loaded, e.g.
# a student starting from its teacher). Both find a student's inner
# detector by themselves, so teachers and students share these hooks.
_base_ = './effb7_runtime.py'

custom_hooks = [dict(type='ScratchGuardHook'),
                dict(type='ScratchInitHook')] + _base_.custom_hooks
