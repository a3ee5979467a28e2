# Runtime of the EfficientNet-B7 arms: He et al.'s long-run runtime (atomic
# checkpoints, auto-resume, preemption, RNG state, images seen) plus
# SyncBNGuardHook (refuses to train SyncBN on one process; the ResNet
# runtimes list it too).
_base_ = '../../_base_/he_runtime.py'

custom_hooks = [dict(type='SyncBNGuardHook')] + _base_.custom_hooks
